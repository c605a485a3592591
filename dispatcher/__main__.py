"""`python -m dispatcher`: poll the uploads queue with the Lambda's handler logic, as AWS would."""

from __future__ import annotations

from pivfleet.cloud.runtime import serve

if __name__ == "__main__":
    from dispatcher.handler import dispatcher, uploads

    serve(uploads, dispatcher(), "the uploads queue")
