"""pivfleet: multi-pass window-deformation PIV on one machine or a fleet of queue workers."""

__version__ = "0.1.0"
