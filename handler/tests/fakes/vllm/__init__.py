"""A strict stand-in for vLLM 0.33.0, installed on sys.path by tests only (the real one needs a GPU).

Every name the worker uses exists here at its real module path with its real signature, recorded from
vLLM 0.33.0's released wheel into _recorded.py by ../record_vllm_signatures.py (which names the source
file of each shape); test_vllm_fake.py checks the fake against that record. Unknown keywords fail as in
vLLM: SamplingParams and AsyncEngineArgs raise TypeError, so do generate/abort/from_engine_args.

Test controls (not vLLM's): RECORD holds what reached engine args, SamplingParams, generate and abort;
SCRIPT drives what the engine does (see vllm/v1/engine/async_llm.py).
"""

from typing import Any, Dict, List

RECORD: Dict[str, List[Any]] = {"engine_args": [], "generate": [], "abort": [], "abort_internal": [],
                                "sampling": []}
DEFAULT_SCRIPT: Dict[str, Any] = {"tokens": ["Hello", ",", " world"], "tokens_per_output": 1, "delay_s": 0.0,
                                  "finish_reason": None, "start_error": None, "fail_after": 0,
                                  "fail_with": None, "dead": False}
SCRIPT: Dict[str, Any] = dict(DEFAULT_SCRIPT)


class FakeTokenizer:
    """Llama-3-like: the chat template writes the BOS text itself, encode() adds BOS by default.
    (vLLM's get_tokenizer() returns the model's Hugging Face tokenizer; these are the calls the worker
    makes: apply_chat_template, encode, bos_token_id.)"""

    bos_token = "<bos>"
    bos_token_id = 1

    def apply_chat_template(self, conversation, tokenize=True, add_generation_prompt=False, **kwargs):
        assert tokenize is False and add_generation_prompt is True
        body = "".join(f"<{m['role']}>{m['content']}" for m in conversation)
        return self.bos_token + body + "<assistant>"

    def encode(self, text, truncation=None, max_length=None, add_special_tokens=True):
        ids = [1] if add_special_tokens else []
        if text.startswith(self.bos_token):
            ids.append(1)
            text = text[len(self.bos_token):]
        return ids + [100 + (ord(ch) % 50) for ch in text]


from vllm.engine.arg_utils import AsyncEngineArgs  # noqa: E402
from vllm.engine.async_llm_engine import AsyncLLMEngine  # noqa: E402
from vllm.inputs import TokensPrompt  # noqa: E402
from vllm.outputs import CompletionOutput, RequestOutput  # noqa: E402
from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams  # noqa: E402

__all__ = ["AsyncEngineArgs", "AsyncLLMEngine", "SamplingParams", "RequestOutputKind", "StructuredOutputsParams",
           "TokensPrompt", "RequestOutput", "CompletionOutput", "RECORD", "SCRIPT", "DEFAULT_SCRIPT"]
