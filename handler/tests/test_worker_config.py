import pytest

from worker_config import ConfigError, load_worker_config


def test_defaults_for_vllm_need_a_model():
    with pytest.raises(ConfigError, match="MODEL_NAME is missing"):
        load_worker_config({})


def test_vllm_defaults():
    config = load_worker_config({"MODEL_NAME": "Qwen/Qwen2.5-7B-Instruct"})
    assert config.engine == "vllm"
    assert config.max_model_len == 8192
    assert config.gpu_memory_utilization == 0.9
    assert config.max_concurrency == 30
    assert config.hf_hub_cache == "/runpod-volume/huggingface-cache/hub"
    assert config.default_max_tokens == 512


def test_echo_engine_needs_no_model_and_reads_its_delay():
    config = load_worker_config({"ENGINE": "echo", "ECHO_TOKEN_DELAY_MS": "25", "MAX_MODEL_LEN": "64"})
    assert (config.engine, config.model_name, config.echo_token_delay_ms, config.max_model_len) == (
        "echo", "echo", 25.0, 64)


@pytest.mark.parametrize("name,value,allowed", [
    ("ENGINE", "ollama", "vllm, echo"),
    ("MAX_MODEL_LEN", "lots", "an integer from 16 up"),
    ("MAX_MODEL_LEN", "8", "an integer from 16 up"),
    ("GPU_MEMORY_UTILIZATION", "1.5", "0.05 to 1.0"),
    ("MAX_CONCURRENCY", "0", "1 to 1024"),
    ("STREAM_BATCH_TOKENS", "-1", "1 to 4096"),
    ("ECHO_TOKEN_DELAY_MS", "soon", "milliseconds"),
    ("TRUST_REMOTE_CODE", "maybe", "true or false"),
])
def test_bad_values_name_the_variable_the_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(ConfigError) as info:
        load_worker_config({"ENGINE": "echo", name: value})
    message = str(info.value)
    assert name in message and repr(value) in message and allowed in message


def test_blank_values_fall_back_to_defaults():
    assert load_worker_config({"ENGINE": "echo", "MAX_CONCURRENCY": " "}).max_concurrency == 30


def test_model_aliases_are_served_names_after_the_model():
    config = load_worker_config({"MODEL_NAME": "org/m", "MODEL_ALIASES": " llama3:8b , org/m,default "})
    assert config.served_models == ("org/m", "llama3:8b", "default")
    assert load_worker_config({"MODEL_NAME": "org/m"}).served_models == ("org/m",)
    with pytest.raises(ConfigError, match="MODEL_ALIASES='a,,b' is not allowed: expected comma-separated non-empty names"):
        load_worker_config({"MODEL_NAME": "org/m", "MODEL_ALIASES": "a,,b"})
