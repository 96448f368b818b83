"""vllm.exceptions as in vLLM 0.33.0 (vllm/exceptions.py): the classes the worker meets, same names,
bases, module and constructor arguments (test_vllm_fake.py checks them against _recorded.py)."""

from typing import Any, Optional


class VLLMError(Exception):
    pass


class VLLMClientError(VLLMError):
    """The request's fault (vLLM's server answers 4xx)."""


class VLLMServerError(VLLMError):
    """The server's fault (vLLM's server answers 5xx)."""


class VLLMValidationError(VLLMClientError):
    def __init__(self, message: str, *, parameter: Optional[str] = None, value: Any = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value

    def __str__(self) -> str:
        base = super().__str__()
        extras = []
        if self.parameter is not None:
            extras.append(f"parameter={self.parameter}")
        if self.value is not None:
            extras.append(f"value={self.value}")
        return f"{base} ({', '.join(extras)})" if extras else base


class GenerationError(VLLMServerError):
    def __init__(self, message: str = "Internal server error") -> None:
        super().__init__(message)
        self.status_code = 500


class RetryableRequestError(GenerationError):
    def __init__(self, message: str = "Request failed; please retry") -> None:
        super().__init__(message)
        self.status_code = 503


class GracefulHTTPError(VLLMError):
    def __init__(self, message: str, http_status: int) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class QueueOverflowError(GracefulHTTPError):
    def __init__(self) -> None:
        super().__init__("The engine is currently busy and cannot accept new requests. "
                         "Please try again later or on a different instance.", 503)
