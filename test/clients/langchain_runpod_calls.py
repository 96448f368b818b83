"""langchain-runpod's two models against the endpoint named by the environment; prints one JSON line of answers.

Run by test/clients/langchain-runpod.test.ts with .tools/langchain-runpod's Python. Each call is the package's own
code path: RunPod (LLM) sends {"input": {"prompt": ..., "max_tokens": ...}} to /run and polls /status; ChatRunPod
turns the chat into one prompt the same way.
"""

import json
import os
import sys

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_runpod import ChatRunPod, RunPod

common = dict(endpoint_id=os.environ["RUNPOD_ENDPOINT_ID"], api_key=os.environ["RUNPOD_API_KEY"],
              api_base=os.environ["EMULATOR_SERVERLESS_URL"], max_tokens=16, temperature=0.0, poll_interval=0.2)

answers = {}
answers["llm"] = RunPod(**common).invoke("hello from langchain")
answers["llm_stream"] = "".join(RunPod(**common).stream("streamed through langchain"))
chat = ChatRunPod(**common).invoke([SystemMessage(content="be brief"), HumanMessage(content="a chat from langchain")])
answers["chat"] = chat.content
answers["chat_usage"] = getattr(chat, "usage_metadata", None)
json.dump(answers, sys.stdout)
print()
