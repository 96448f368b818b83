"""vllm.outputs as in vLLM 0.33.0 (vllm/outputs.py): RequestOutput's constructor and CompletionOutput's
fields, recorded in _recorded.py; only the ones the fake fills carry values."""

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: Sequence[int]
    cumulative_logprob: Optional[float]
    logprobs: Any
    routed_experts: Any = None
    finish_reason: Optional[str] = None
    stop_reason: Any = None
    lora_request: Any = None
    sampling_mask: Any = None
    spec_decode_metrics: Any = None
    weight_versions: Any = None

    def finished(self) -> bool:
        return self.finish_reason is not None


class RequestOutput:
    def __init__(self, request_id: str, prompt: Optional[str], prompt_token_ids: Optional[List[int]],
                 prompt_logprobs: Any, outputs: List[CompletionOutput], finished: bool, metrics: Any = None,
                 lora_request: Any = None, encoder_prompt: Optional[str] = None,
                 encoder_prompt_token_ids: Optional[List[int]] = None, num_cached_tokens: Optional[int] = None,
                 num_cache_creation_tokens: Optional[int] = None, *, prompt_token_id_logprobs: Any = None,
                 kv_transfer_params: Any = None, ec_transfer_params: Any = None, **kwargs: Any) -> None:
        self.request_id = request_id
        self.prompt = prompt
        self.prompt_token_ids = prompt_token_ids
        self.prompt_logprobs = prompt_logprobs
        self.outputs = outputs
        self.finished = finished
        self.metrics = metrics
        self.num_cached_tokens = num_cached_tokens
