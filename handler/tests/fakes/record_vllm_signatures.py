"""Records the shapes the strict vLLM fake must keep, from a released vLLM wheel, into vllm/_recorded.py.

    pip download vllm==0.33.0 --no-deps --only-binary :all: -d /tmp/vllm   # ~336 MB, not installed
    .venv/bin/python handler/tests/fakes/record_vllm_signatures.py /tmp/vllm/vllm-0.33.0-*.whl

It reads the wheel's Python sources with `ast` (nothing is imported or installed: vLLM needs torch and a
GPU) and writes field names, parameter lists, finish reasons and exception classes with the file each
comes from. The fake (tests/fakes/vllm) builds its strictness from that file, and test_vllm_fake.py checks
the fake's own signatures against it, so a refresh for a new vLLM release shows every difference.
"""

from __future__ import annotations

import ast
import hashlib
import pprint
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List

OUT = Path(__file__).parent / "vllm" / "_recorded.py"


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise LookupError(f"class {name} not found")


def _fields(cls: ast.ClassDef, public_only: bool = False) -> List[str]:
    """Annotated class attributes: a dataclass's or msgspec Struct's fields, in order."""
    names = []
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            value = stmt.value
            # dataclasses.field(init=False) is not a constructor argument.
            if isinstance(value, ast.Call) and any(k.arg == "init" and isinstance(k.value, ast.Constant)
                                                   and k.value.value is False for k in value.keywords):
                continue
            if public_only and name.startswith("_"):
                continue
            names.append(name)
    return names


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef:
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
            return stmt  # type: ignore[return-value]
    raise LookupError(f"{cls.name}.{name} not found")


def _signature(fn: Any) -> Dict[str, Any]:
    args = fn.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    return {
        "async": isinstance(fn, ast.AsyncFunctionDef),
        "generator": any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(fn)),
        "positional": positional,
        "keyword_only": [a.arg for a in args.kwonlyargs],
        "var_keyword": args.kwarg.arg if args.kwarg else None,
    }


def _bases(cls: ast.ClassDef) -> List[str]:
    return [ast.unparse(base) for base in cls.bases]


def record(wheel: Path) -> Dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        def tree(path: str) -> ast.Module:
            return ast.parse(archive.read(path).decode())

        version_file = archive.read("vllm/_version.py").decode()
        version = re.search(r"__version__ = version = ['\"]([^'\"]+)", version_file)
        engine_args = tree("vllm/engine/arg_utils.py")
        sampling = tree("vllm/sampling_params.py")
        async_llm = _class(tree("vllm/v1/engine/async_llm.py"), "AsyncLLM")
        outputs = tree("vllm/outputs.py")
        inputs = tree("vllm/inputs/llm.py")
        engine_init = tree("vllm/v1/engine/__init__.py")
        exceptions = tree("vllm/exceptions.py")
        engine_exceptions = tree("vllm/v1/engine/exceptions.py")

        finish = next(node for node in engine_init.body if isinstance(node, ast.Assign)
                      and any(isinstance(t, ast.Name) and t.id == "FINISH_REASON_STRINGS" for t in node.targets))
        output_kind = _class(sampling, "RequestOutputKind")
        tokens_prompt = _class(inputs, "TokensPrompt")
        prompt_options = _class(inputs, "_PromptOptions")
        exception_classes = {}
        for module, source in (("vllm.exceptions", exceptions), ("vllm.v1.engine.exceptions", engine_exceptions)):
            for node in source.body:
                if isinstance(node, ast.ClassDef):
                    exception_classes[node.name] = {"module": module, "bases": _bases(node)}
        return {
            "version": version.group(1) if version else "?",
            "wheel": wheel.name,
            "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
            # vllm/engine/arg_utils.py: @dataclass EngineArgs, and AsyncEngineArgs(EngineArgs).
            "engine_args_fields": _fields(_class(engine_args, "EngineArgs"))
            + _fields(_class(engine_args, "AsyncEngineArgs")),
            # vllm/sampling_params.py: SamplingParams(msgspec.Struct); private (_x) fields left out.
            "sampling_params_fields": _fields(_class(sampling, "SamplingParams"), public_only=True),
            "structured_outputs_fields": _fields(_class(sampling, "StructuredOutputsParams")),
            "request_output_kind": {t.targets[0].id: t.value.value for t in output_kind.body  # type: ignore
                                    if isinstance(t, ast.Assign)},
            # vllm/v1/engine/async_llm.py: AsyncLLM (AsyncLLMEngine is its alias).
            "from_engine_args": _signature(_method(async_llm, "from_engine_args")),
            "generate": _signature(_method(async_llm, "generate")),
            "abort": _signature(_method(async_llm, "abort")),
            "get_tokenizer": _signature(_method(async_llm, "get_tokenizer")),
            # vllm/outputs.py
            "request_output_init": _signature(_method(_class(outputs, "RequestOutput"), "__init__")),
            "completion_output_fields": _fields(_class(outputs, "CompletionOutput")),
            # vllm/inputs/llm.py: TokensPrompt(_PromptOptions), a TypedDict.
            "tokens_prompt_keys": _fields(prompt_options) + _fields(tokens_prompt),
            # vllm/v1/engine/__init__.py
            "finish_reasons": [elt.value for elt in finish.value.elts],  # type: ignore[attr-defined]
            # vllm/exceptions.py and vllm/v1/engine/exceptions.py
            "exceptions": exception_classes,
        }


def main(argv: List[str]) -> None:
    if len(argv) != 2:
        sys.exit(__doc__)
    recorded = record(Path(argv[1]))
    header = (f'"""Recorded from vLLM {recorded["version"]}\'s released wheel ({recorded["wheel"]}, sha256 '
              f'{recorded["wheel_sha256"]}) by tests/fakes/record_vllm_signatures.py: do not edit, rerun it.\n\n'
              "Each key's comment in the recorder names the source file it was read from.\n\"\"\"\n\n")
    OUT.write_text(header + "RECORDED = " + pprint.pformat(recorded, width=110, sort_dicts=False) + "\n")
    print(f"wrote {OUT} (vLLM {recorded['version']})")


if __name__ == "__main__":
    main(sys.argv)
