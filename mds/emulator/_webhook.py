"""Webhook requests of the emulator: the registration check and one delivery worker per callback.

Only the I/O lives here (urllib3 PUTs, one daemon thread per callback channel); what is sent and
when, what counts as a failure, the back-off and the give-up are the service's rules
(:class:`~mds.emulator._service.NotificationService`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping

import urllib3

from mds.emulator._channels import CallbackChannel
from mds.emulator._serialization import Serialization
from mds.emulator._service import NotificationService, Refusal

__all__ = ["WebhookDispatcher"]

#: How long :meth:`WebhookDispatcher.stop` waits for workers in all.
STOP_TIMEOUT = 1.0


class WebhookDispatcher:
    """Sends the service's webhook requests.

    Args:
        service: The service whose callback channels it delivers.
        ca_certs: CA bundle to verify ``https`` targets with (``None``: the system's).
    """

    def __init__(self, service: NotificationService, ca_certs: str | None = None) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._pool: urllib3.PoolManager | None = urllib3.PoolManager(
            num_pools=32, maxsize=4, retries=False, ca_certs=ca_certs
        )

    def stop(self) -> None:
        """Wait (briefly) for the workers to end and close the connections.

        Call it after the service stopped, which ends every worker once its request in flight
        is answered; a worker blocked on a slow target finishes on its own (it is a daemon
        thread), so this does not wait out ``webhook_timeout``.
        """
        deadline = time.monotonic() + STOP_TIMEOUT
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()

    def register(
        self,
        api_key: str,
        url: str,
        headers: Mapping[str, str],
        serialization: Serialization | None = None,
    ) -> Refusal | None:
        """Register a webhook: the service's checks, the validation PUT, then the channel
        (with its 2020 ``serialization``, if any).

        The validation request runs without the service's lock held: the target may take its
        time. Returns ``None`` on success, else the 400 to answer.
        """
        service = self._service
        refusal = service.check_webhook(api_key, url, headers)
        if refusal is not None:
            return refusal
        status, error = self._put(url, headers, b"{}")
        refusal = service.validation_result(url, status, error)
        if refusal is not None:
            return refusal
        outcome = service.register_callback(api_key, url, headers, serialization)
        if isinstance(outcome, CallbackChannel):
            self._start_worker(outcome)
            return None
        return outcome

    def _put(
        self, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int | None, str | None]:
        """PUT ``body`` to ``url``; returns (status, None) or (None, why there is no answer)."""
        pool = self._pool
        if pool is None:
            return None, "emulator stopped"
        send_headers = {
            name: value for name, value in headers.items() if name.lower() != "content-type"
        }
        send_headers["Content-Type"] = "application/json"
        seconds = self._service.settings.webhook_timeout
        try:
            response = pool.request(
                "PUT",
                url,
                body=body,
                headers=send_headers,
                timeout=urllib3.Timeout(connect=seconds, read=seconds),
                retries=False,
                redirect=False,
            )
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status, None

    def _start_worker(self, channel: CallbackChannel) -> None:
        worker = threading.Thread(
            target=self._deliver,
            args=(channel,),
            name="mds-emulator-webhook",
            daemon=True,
        )
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _deliver(self, channel: CallbackChannel) -> None:
        """One callback channel's worker: send what the service hands out, report the answer."""
        service = self._service
        try:
            while (delivery := service.next_delivery(channel)) is not None:
                body = json.dumps(delivery.message, separators=(",", ":")).encode()
                status, error = self._put(delivery.url, delivery.headers, body)
                service.delivery_result(delivery, status, error)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())
