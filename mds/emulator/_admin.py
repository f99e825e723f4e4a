"""The admin API under ``/_emulator/``: inject notifications, device events and faults, drive
simulated devices, read what clients sent. Every endpoint does what the ``Emulator`` method of
the same name does.

:class:`AdminApi` takes the parsed request (method, name, body bytes) and returns the JSON to
answer with, or raises :class:`AdminError`; the HTTP handler does the rest.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Collection, Mapping
from typing import Any

from mds.emulator._chaos import parse_chaos
from mds.emulator._device_service import DeviceService
from mds.emulator._faults import parse_fault
from mds.emulator._messages import async_response_item, notification_item
from mds.emulator._service import NotificationService

__all__ = ["PREFIX", "AdminApi", "AdminError"]

#: Where the admin API lives.
PREFIX = "/_emulator/"


class AdminError(Exception):
    """An admin request that cannot be served: answer ``status`` with ``message``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class AdminApi:
    """The admin endpoints of one service.

    Args:
        service: The service to inject into and read from.
        devices: The simulated devices.
        endpoints: The endpoints a fault may name (``"METHOD /path"``), from the route table.
    """

    def __init__(
        self, service: NotificationService, devices: DeviceService, endpoints: Collection[str]
    ) -> None:
        self._service = service
        self._devices = devices
        self._endpoints = endpoints
        self._reads: dict[str, Callable[[], Any]] = {
            "health": service.health,
            "requests": service.requests,
            "deliveries": service.deliveries,
            "devices": devices.devices,
            "executions": devices.executions,
            "chaos": service.chaos_report,
        }
        self._puts: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "chaos": self._chaos,
        }
        self._posts: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "messages": self._messages,
            "notify": self._notify,
            "register": self._register,
            "reg-update": self._reg_update,
            "deregister": self._deregister,
            "expire": self._expire,
            "async-response": self._async_response,
            "set-resource": self._set_resource,
            "set-online": self._set_online,
            "set-latency": self._set_latency,
            "on-execute": self._on_execute,
            "faults": self._faults,
            "reset": self._reset,
        }

    def handle(self, method: str, path: str, body: bytes) -> Any:
        """Serve ``method`` on ``path`` (which starts with :data:`PREFIX`).

        Returns:
            The JSON value to answer 200 with.

        Raises:
            AdminError: 404 unknown endpoint, 405 a method the endpoint does not take, 400 a
                malformed body or argument.
        """
        name = path[len(PREFIX) :]
        if method == "GET":
            read = self._reads.get(name)
            if read is None:
                raise AdminError(404, f"No such admin endpoint: {path}")
            return read()
        writes = self._puts if name in self._puts else self._posts
        if method != ("PUT" if writes is self._puts else "POST"):
            allow = "GET, PUT" if writes is self._puts else "GET, POST"
            raise AdminError(405, f"{method} is not allowed on {path}", {"Allow": allow})
        post = writes.get(name)
        if post is None:
            raise AdminError(404, f"No such admin endpoint: {path}")
        try:
            data = _json_object(body) if body.strip() else {}
            return post(data)
        except (ValueError, TypeError, OverflowError) as exc:  # (int(1e400), float(10**400))
            raise AdminError(400, f"Invalid request: {exc}") from exc

    # ------------------------------------------------------------------ POST endpoints

    def _queue(self, key: str, item: Any, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"queued": self._service.queue_message({key: [item]}, _api_key(data))}

    def _messages(self, data: dict[str, Any]) -> dict[str, Any]:
        message = data.get("message")
        if not isinstance(message, dict):
            raise ValueError("message must be a NotificationMessage object")
        return {"queued": self._service.queue_message(message, _api_key(data))}

    def _notify(self, data: dict[str, Any]) -> dict[str, Any]:
        ct = _optional(data, "ct")  # (a ct that is not text cannot encode the value)
        item = notification_item(
            _required(data, "ep"),
            _required(data, "path"),
            data.get("value"),
            "text/plain" if ct is None else ct,
            data.get("payload_b64"),
            data.get("max_age", data.get("max-age", 0)),
        )
        return self._queue("notifications", item, data)

    def _registration(self, data: dict[str, Any], full: bool) -> dict[str, Any]:
        queued = self._devices.register(
            _required(data, "ep"),
            ept=_optional(data, "ept"),
            original_ep=_optional(data, "original_ep") or _optional(data, "original-ep"),
            q=bool(data.get("q", False)),
            resources=data.get("resources"),
            api_key=_api_key(data),
            full=full,
        )
        return {"queued": queued}

    def _register(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._registration(data, full=True)

    def _reg_update(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._registration(data, full=False)

    def _deregister(self, data: dict[str, Any]) -> dict[str, Any]:
        ep = _required(data, "ep")
        return {"queued": self._devices.deregister(ep, api_key=_api_key(data))}

    def _expire(self, data: dict[str, Any]) -> dict[str, Any]:
        ep = _required(data, "ep")
        return {"queued": self._devices.deregister(ep, api_key=_api_key(data), expired=True)}

    def _set_resource(self, data: dict[str, Any]) -> dict[str, Any]:
        queued = self._devices.set_resource(
            _required(data, "ep"),
            _required(data, "path"),
            data.get("value"),
            ct=_optional(data, "ct"),
            payload_b64=_optional(data, "payload_b64"),
        )
        return {"queued": queued}

    def _set_online(self, data: dict[str, Any]) -> dict[str, Any]:
        online = data.get("online", True)
        if not isinstance(online, bool):
            raise ValueError("online must be true or false")
        self._devices.set_online(_required(data, "ep"), online)
        return {"online": online}

    def _set_latency(self, data: dict[str, Any]) -> dict[str, Any]:
        latency = data.get("latency")
        if latency is not None and (
            not isinstance(latency, (int, float)) or isinstance(latency, bool)
        ):
            raise ValueError("latency must be a number of seconds or null")
        self._devices.set_latency(_required(data, "ep"), latency)
        return {"latency": latency}

    def _on_execute(self, data: dict[str, Any]) -> dict[str, Any]:
        status = data.get("status", 200)
        self._devices.on_execute(
            _required(data, "ep"),
            _required(data, "path"),
            data.get("value"),
            status=status,
            ct=_optional(data, "ct") or "text/plain",
        )
        return {"status": status}

    def _async_response(self, data: dict[str, Any]) -> dict[str, Any]:
        item = async_response_item(
            _required(data, "id"),
            status=int(data.get("status", 200)),
            value=data.get("value"),
            payload_b64=data.get("payload_b64"),
            ct=_optional(data, "ct"),
            error=data.get("error"),
            max_age=data.get("max_age", data.get("max-age")),
        )
        return self._queue("async-responses", item, data)

    def _faults(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(self._service.add_fault(parse_fault(data, self._endpoints)))

    def _chaos(self, data: dict[str, Any]) -> dict[str, Any]:
        self._service.set_chaos(parse_chaos(data, self._endpoints, secrets.randbelow(2**32)))
        return self._service.chaos_report()

    def _reset(self, data: dict[str, Any]) -> dict[str, Any]:
        self._devices.reset()
        self._service.reset()
        return {"reset": True}


def _json_object(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body; ValueError for anything else, including what
    ``json.loads`` reads but JSON does not have (``NaN``, ``Infinity``, ``1e999``) and nesting
    deeper than the parser goes."""
    try:
        data = json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise ValueError("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is not a finite number")
    return number


#: An HTTP header name (RFC 9110 token) and value (visible Latin-1, spaces and tabs).
def _api_key(data: Mapping[str, Any]) -> str | None:
    api_key = data.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise ValueError("api_key must be a string")
    return api_key


def _optional(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value
