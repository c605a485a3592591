"""The dispatcher, worker and collector logic over the ports, the one consume loop and the one
message policy. Receives its stores and queues; never builds a client or reads the environment.
Imports core and algorithms."""
