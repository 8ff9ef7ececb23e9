"""Framework integrations of Spanloom's Python SDK against a running server: the LangChain
callback handler (with the real `langchain-openai` ChatOpenAI), LangGraph graphs through the
same handler, and the LlamaIndex instrumentation (with the real llama-index OpenAI LLM and
embedding classes), all talking to tests/e2e/fake_provider.py. Each script runs in its own
process; the spans are read back from the server and checked as a tree."""

from __future__ import annotations

import json
import textwrap
import time

import pytest
from test_braintrust_sdk import run_sdk

pytest.importorskip("spanloom", reason="installed by scripts/setup-test-env.sh")


def run(server, script: str, *args: str) -> dict:
    """Runs the script; its last stdout line is JSON."""
    return json.loads(run_sdk(server, script, *args, prefix="SPANLOOM").strip().splitlines()[-1])


def project_rows(client, name: str) -> list[dict]:
    """The project's spans, once they read back complete: every span ended, and the same count
    twice in a row (polled for up to 10 s: rows flushed just before have been seen to become
    visible a moment later)."""
    deadline, previous = time.time() + 10, None
    while True:
        found = client.get("/v1/project", params={"project_name": name}).json()["objects"]
        rows = client.fetch_all("project_logs", found[0]["id"]) if found else []
        complete = rows and all("end" in r.get("metrics", {}) for r in rows)
        if (complete and len(rows) == previous) or time.time() > deadline:
            return rows
        previous = len(rows) if complete else None
        time.sleep(0.25)


def children(rows: list[dict], parent: dict) -> list[dict]:
    """The parent's child spans, in start order."""
    kids = [r for r in rows if r.get("span_parents") == [parent["span_id"]]]
    return sorted(kids, key=lambda r: (r["metrics"]["start"], r["span_attributes"].get("exec_counter", 0)))


def descendants(rows: list[dict], parent: dict) -> list[dict]:
    """Every span under the parent, depth first."""
    out = []
    for child in children(rows, parent):
        out += [child, *descendants(rows, child)]
    return out


def names(rows: list[dict]) -> list[str]:
    return [r["span_attributes"]["name"] for r in rows]


def one(rows: list[dict], name: str) -> dict:
    [row] = [r for r in rows if r["span_attributes"]["name"] == name]
    return row


def tree(rows: list[dict]) -> str:
    """The span tree as indented names and types (for assertion messages)."""
    lines: list[str] = []

    def walk(row: dict, depth: int) -> None:
        lines.append(f"{'  ' * depth}{row['span_attributes']['name']} ({row['span_attributes'].get('type')})")
        for child in children(rows, row):
            walk(child, depth + 1)

    for root in sorted((r for r in rows if not r.get("span_parents")), key=lambda r: r["metrics"]["start"]):
        walk(root, 0)
    return "\n".join(lines)


def check_closed(rows: list[dict]) -> None:
    """Every span ended, after it started, and belongs to one trace with its parent."""
    by_span = {r["span_id"]: r for r in rows}
    for r in rows:
        assert r["metrics"]["start"] <= r["metrics"]["end"], r
        for parent in r.get("span_parents") or []:
            assert by_span[parent]["root_span_id"] == r["root_span_id"], r


LANGCHAIN_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import spanloom
    from spanloom.langchain import SpanloomCallbackHandler, BraintrustCallbackHandler, set_global_handler, clear_global_handler
    from langchain_core.messages import HumanMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough
    from langchain_core.tools import tool
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

    assert BraintrustCallbackHandler is SpanloomCallbackHandler
    spanloom.init_logger(project="spanloom-langchain-e2e")
    handler = SpanloomCallbackHandler()
    config = {"callbacks": [handler]}
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=sys.argv[1] + "/v1", api_key="sk-fake", temperature=0.1, max_retries=0, stream_usage=True)
    # (check_embedding_ctx_length=False: no tiktoken, whose encodings would be downloaded)
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", base_url=sys.argv[1] + "/v1", api_key="sk-fake",
                                  check_embedding_ctx_length=False, max_retries=0)
    store = InMemoryVectorStore.from_texts(["Paris is the capital of France.", "Berlin is the capital of Germany."],
                                           embedding=embeddings, metadatas=[{"source": "kb-1"}, {"source": "kb-2"}])

    @spanloom.traced
    def lookup(city):
        return "sunny"

    @tool
    def get_weather(city: str) -> str:
        \"\"\"The weather in a city.\"\"\"
        return f"{lookup(city)} in {city}"

    def explode(_):
        raise ValueError("the lambda failed")

    @spanloom.traced
    def agent(question):
        chain = ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{q}")]) | llm | StrOutputParser()
        answer = chain.invoke({"q": question}, config=config)
        streamed = "".join(chunk.content for chunk in llm.stream("stream please", config=config))
        for _ in llm.stream("stop reading early", config=config):
            break
        model = llm.bind_tools([get_weather])
        messages = [HumanMessage("What is the weather in Paris?")]
        reply = model.invoke(messages, config=config)
        messages.append(reply)
        for call in reply.tool_calls:
            messages.append(get_weather.invoke(call, config=config))
        final = model.invoke(messages, config=config)
        try:
            RunnableLambda(explode, name="explode").invoke(1, config=config)
        except ValueError:
            pass
        join = RunnableLambda(lambda docs: " ".join(sorted(d.page_content for d in docs)), name="join_docs")
        retriever = store.as_retriever(search_kwargs={"k": 2})
        rag = {"context": retriever | join, "q": RunnablePassthrough()} | ChatPromptTemplate.from_messages([("user", "{context} {q}")]) | llm
        rag_answer = rag.invoke("capital?", config=config).content
        # Concurrent runs (LangChain's thread pool) keep their own subtrees.
        batch = (llm | StrOutputParser()).batch(["b1", "b2", "b3"], config={**config, "max_concurrency": 3})
        lookup("after the batch")  # the batch left no span of its own current here
        return {"answer": answer, "streamed": streamed, "final": final.content, "rag": rag_answer, "batch": batch}

    @spanloom.traced
    async def async_agent():
        chain = llm | StrOutputParser()
        return await chain.ainvoke("async hello", config=config)

    out = agent("hello chain")
    out["async"] = asyncio.run(async_agent())
    # A global handler traces runs that are given no callbacks.
    set_global_handler(SpanloomCallbackHandler())
    out["global"] = llm.invoke("global hello").content
    clear_global_handler()
    out["untraced"] = llm.invoke("not traced").content
    spanloom.flush()
    print(json.dumps(out))
    """
)


def test_langchain_chain_stream_tools_and_errors(server, client, fake_provider):
    out = run(server, LANGCHAIN_SCRIPT, fake_provider.url)
    assert out == {
        "answer": "Echo: hello chain",
        "streamed": "Echo: stream please",
        "final": "Echo: What is the weather in Paris?",
        "rag": "Echo: Berlin is the capital of Germany. Paris is the capital of France. capital?",
        "batch": ["Echo: b1", "Echo: b2", "Echo: b3"],
        "async": "Echo: async hello",
        "global": "Echo: global hello",
        "untraced": "Echo: not traced",
    }
    rows = project_rows(client, "spanloom-langchain-e2e")
    check_closed(rows)
    roots = sorted((r for r in rows if not r["span_parents"]), key=lambda r: r["metrics"]["start"])
    assert names(roots) == ["agent", "async_agent", "ChatOpenAI"]  # the untraced call logged nothing
    agent, async_agent, global_llm = roots

    # agent → the chain, two streamed calls, the two tool-calling model calls and the tool, the
    # failing lambda, the RAG chain, the batch.
    steps = children(rows, agent)
    expected = ["RunnableSequence", "ChatOpenAI", "ChatOpenAI", "ChatOpenAI", "get_weather", "ChatOpenAI", "explode", *["RunnableSequence"] * 4, "lookup"]
    assert names(steps) == expected, tree(rows)
    sequence, streamed, closed, tool_call, tool, final, explode, rag, *batch, after = steps
    assert after["input"] == {"city": "after the batch"}
    assert all(r["root_span_id"] == agent["root_span_id"] for r in steps)

    # The chain: prompt → model → parser, with inputs and outputs.
    assert sequence["span_attributes"]["type"] == "task"
    assert sequence["input"] == {"q": "hello chain"} and sequence["output"] == "Echo: hello chain"
    prompt, chat, parser = children(rows, sequence)
    assert names([prompt, chat, parser]) == ["ChatPromptTemplate", "ChatOpenAI", "StrOutputParser"]
    assert prompt["output"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello chain"}]
    assert parser["output"] == "Echo: hello chain"

    # The LLM span follows the conventions: messages in, assistant message out, model and
    # parameters in metadata, tokens in metrics.
    assert chat["span_attributes"]["type"] == "llm"
    assert chat["input"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello chain"}]
    assert chat["output"]["role"] == "assistant" and chat["output"]["content"] == "Echo: hello chain"
    meta = chat["metadata"]
    assert meta["model"] == "gpt-4o-mini" and meta["provider"] == "openai" and meta["temperature"] == 0.1
    assert meta["finish_reason"] == "stop" and "seq:step:2" in meta["tags"]
    m = chat["metrics"]
    assert m["prompt_tokens"] > 0 and m["completion_tokens"] == 3 and m["tokens"] == m["prompt_tokens"] + 3
    assert "time_to_first_token" not in m

    # Streaming: the aggregated message, usage from the final chunk, time to first token.
    assert streamed["input"] == [{"role": "user", "content": "stream please"}]
    assert streamed["output"]["content"] == "Echo: stream please" and streamed["metadata"]["stream"] is True
    assert streamed["metrics"]["completion_tokens"] == 3
    assert 0 < streamed["metrics"]["time_to_first_token"] <= streamed["metrics"]["end"] - streamed["metrics"]["start"]

    # A stream the caller stopped reading: ended then, not an error.
    assert closed["metadata"]["stream_closed_early"] is True and "error" not in closed
    assert closed["output"]["role"] == "assistant" and closed["input"] == [{"role": "user", "content": "stop reading early"}]

    # Tool calling: the model asks for the tool (tools in metadata), the tool runs (and the
    # traced function it calls nests under it), the model answers with the tool result.
    assert tool_call["output"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert json.loads(tool_call["output"]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert tool_call["metadata"]["tools"][0]["function"]["name"] == "get_weather"
    assert tool["span_attributes"]["type"] == "tool"
    assert tool["input"] == {"city": "Paris"} and tool["output"] == "sunny in Paris"
    assert tool["metadata"]["tool_call_id"] == "call_fake_1"
    [lookup] = children(rows, tool)
    assert lookup["span_attributes"]["name"] == "lookup" and lookup["output"] == "sunny"
    assert [msg["role"] for msg in final["input"]] == ["user", "assistant", "tool"]
    assert final["input"][2] == {"role": "tool", "name": "get_weather", "tool_call_id": "call_fake_1", "content": "sunny in Paris"}
    assert final["output"]["content"] == "Echo: What is the weather in Paris?"

    # Errors: the traceback is the span's error.
    assert "ValueError: the lambda failed" in explode["error"] and "Traceback" in explode["error"]
    assert "output" not in explode or explode["output"] is None

    # A retriever in a RAG chain: the query in, the documents out.
    [retriever] = [r for r in descendants(rows, rag) if r["span_attributes"]["name"] == "VectorStoreRetriever"]
    assert retriever["span_attributes"]["type"] == "function" and retriever["input"] == "capital?"
    docs = sorted(retriever["output"], key=lambda d: d["metadata"]["source"])
    assert [(d["page_content"], d["metadata"]) for d in docs] == [
        ("Paris is the capital of France.", {"source": "kb-1"}),
        ("Berlin is the capital of Germany.", {"source": "kb-2"}),
    ]
    assert all(d["id"] for d in docs)
    assert one(descendants(rows, rag), "join_docs")["output"] == "Berlin is the capital of Germany. Paris is the capital of France."
    [rag_llm] = [r for r in descendants(rows, rag) if r["span_attributes"]["type"] == "llm"]
    assert rag_llm["input"] == [{"role": "user", "content": "Berlin is the capital of Germany. Paris is the capital of France. capital?"}]

    # The batch: three sequences, each with its own model call and parser.
    assert sorted(b["output"] for b in batch) == ["Echo: b1", "Echo: b2", "Echo: b3"]
    for b in batch:
        model, parser = children(rows, b)
        assert model["input"] == [{"role": "user", "content": b["input"]}] and parser["output"] == b["output"] == model["output"]["content"]

    # Async runs nest the same way.
    [async_chain] = children(rows, async_agent)
    assert names(children(rows, async_chain)) == ["ChatOpenAI", "StrOutputParser"]
    assert async_chain["output"] == "Echo: async hello"

    # The global handler's run is a root of its own.
    assert global_llm["span_attributes"]["type"] == "llm" and global_llm["output"]["content"] == "Echo: global hello"


LANGGRAPH_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    from typing import TypedDict
    import spanloom
    from spanloom.integrations.langchain import setup_langchain  # the Braintrust SDK's module path
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.graph import END, START, StateGraph

    warnings.simplefilter("ignore")  # create_react_agent's deprecation notice
    from langgraph.prebuilt import create_react_agent

    setup_langchain(project_name="spanloom-langgraph-e2e")  # a logger, and a global handler
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=sys.argv[1] + "/v1", api_key="sk-fake", max_retries=0)

    class State(TypedDict, total=False):
        question: str
        words: int
        answer: str

    def plan(state):
        return {"words": len(state["question"].split())}

    def answer(state):
        return {"answer": llm.invoke(state["question"]).content}

    graph = StateGraph(State)
    graph.add_node("plan", plan)
    graph.add_node("answer", answer)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "answer")
    graph.add_edge("answer", END)
    app = graph.compile()

    @tool
    def get_weather(city: str) -> str:
        \"\"\"The weather in a city.\"\"\"
        return f"sunny in {city}"

    agent = create_react_agent(llm, [get_weather])

    @spanloom.traced
    def workflow(question):
        state = app.invoke({"question": question})
        result = agent.invoke({"messages": [("user", "What is the weather in Paris?")]})
        return {"state": state, "agent": result["messages"][-1].content}

    print(json.dumps(workflow("how are you graph")))
    spanloom.flush()
    """
)


def test_langgraph_graph_nodes_and_react_agent(server, client, fake_provider):
    out = run(server, LANGGRAPH_SCRIPT, fake_provider.url)
    assert out == {
        "state": {"question": "how are you graph", "words": 4, "answer": "Echo: how are you graph"},
        "agent": "Echo: What is the weather in Paris?",
    }
    rows = project_rows(client, "spanloom-langgraph-e2e")
    check_closed(rows)
    [root] = [r for r in rows if not r["span_parents"]]
    assert root["span_attributes"]["name"] == "workflow"
    graph, agent = children(rows, root)

    # The two-node graph: one span for the graph, one per node, the model call under its node.
    assert names([graph, agent]) == ["LangGraph", "LangGraph"]
    assert graph["input"] == {"question": "how are you graph"} and graph["output"] == out["state"]
    plan, answer = children(rows, graph)
    assert names([plan, answer]) == ["plan", "answer"], tree(rows)
    assert plan["span_attributes"]["type"] == "task" and plan["output"] == {"words": 4}
    assert plan["metadata"]["langgraph_node"] == "plan" and plan["metadata"]["langgraph_step"] == 1
    assert answer["input"] == {"question": "how are you graph", "words": 4} and answer["output"] == {"answer": "Echo: how are you graph"}
    [chat] = children(rows, answer)
    assert chat["span_attributes"]["type"] == "llm" and chat["input"] == [{"role": "user", "content": "how are you graph"}]
    assert chat["output"]["content"] == "Echo: how are you graph" and chat["metrics"]["completion_tokens"] == 5

    # The prebuilt ReAct agent: model → tools → model, each node with its run under it.
    steps = children(rows, agent)
    assert names(steps) == ["agent", "tools", "agent"], tree(rows)
    [first_model] = [r for r in descendants(rows, steps[0]) if r["span_attributes"]["type"] == "llm"]
    assert first_model["output"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert first_model["metadata"]["tools"][0]["function"]["name"] == "get_weather"
    [tool] = children(rows, steps[1])
    assert tool["span_attributes"] == {**tool["span_attributes"], "name": "get_weather", "type": "tool"}
    assert tool["input"] == {"city": "Paris"} and tool["output"] == "sunny in Paris"
    [last_model] = [r for r in descendants(rows, steps[2]) if r["span_attributes"]["type"] == "llm"]
    assert last_model["output"]["content"] == "Echo: What is the weather in Paris?"
    assert [m["role"] for m in last_model["input"]] == ["user", "assistant", "tool"]
    # Plumbing LangGraph hides (channel writes, routing) is not traced.
    assert not [r for r in rows if r["span_attributes"]["name"].startswith(("ChannelWrite", "Branch", "__start__"))]


LLAMA_INDEX_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import spanloom
    from spanloom.llama_index import BraintrustSpanHandler, SpanloomSpanHandler, instrument_llama_index
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool
    from llama_index.embeddings.openai import OpenAIEmbedding
    from llama_index.llms.openai import OpenAI

    spanloom.init_logger(project="spanloom-llamaindex-e2e")
    handler = instrument_llama_index()
    assert instrument_llama_index() is handler and BraintrustSpanHandler is SpanloomSpanHandler
    from llama_index.core.instrumentation import get_dispatcher
    from spanloom.integrations.llamaindex import setup_llamaindex  # the Braintrust SDK's module path
    assert setup_llamaindex() is True
    assert [h for h in get_dispatcher().span_handlers if isinstance(h, SpanloomSpanHandler)] == [handler]
    base = sys.argv[1] + "/v1"
    llm = OpenAI(model="gpt-4o-mini", api_base=base, api_key="sk-fake", temperature=0.2, max_retries=0,
                 additional_kwargs={"stream_options": {"include_usage": True}})
    embed = OpenAIEmbedding(model="text-embedding-3-small", api_base=base, api_key="sk-fake", max_retries=0)

    @spanloom.traced
    def forecast(city):
        return f"sunny in {city}"

    @spanloom.traced
    def rag(question):
        chat = llm.chat([ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hello llama")])
        streamed = "".join(r.delta or "" for r in llm.stream_chat([ChatMessage(role="user", content="stream llama")]))
        for _ in llm.stream_chat([ChatMessage(role="user", content="stop reading early")]):
            break
        docs = [Document(text="Paris is the capital of France.", metadata={"source": "kb-1"}),
                Document(text="Berlin is the capital of Germany.", metadata={"source": "kb-2"})]
        index = VectorStoreIndex.from_documents(docs, embed_model=embed)
        answer = index.as_query_engine(llm=llm, similarity_top_k=2).query(question)
        tool = FunctionTool.from_defaults(fn=forecast, name="forecast", description="The weather in a city.")
        weather = tool.call(city="Paris").content
        try:
            OpenAI(model="gpt-4o-mini", api_base=base, api_key="sk-fake", max_retries=0, additional_kwargs={"user": "x"}).chat(
                [ChatMessage(role="user", content="fail")], model="error-500")
        except Exception as e:
            failed = type(e).__name__
        return {"chat": chat.message.content, "streamed": streamed, "answer": str(answer)[:5],
                "sources": sorted(n.node.metadata["source"] for n in answer.source_nodes), "weather": weather, "failed": failed}

    @spanloom.traced
    async def async_chat():
        chat = await llm.achat([ChatMessage(role="user", content="async llama")])
        # A workflow agent: streamed tool-calling LLM calls and the tool, in asyncio tasks.
        weather_tool = FunctionTool.from_defaults(fn=forecast, name="get_weather", description="The weather in a city.")
        agent = FunctionAgent(tools=[weather_tool], llm=llm)
        result = await agent.run("What is the weather in Paris?")
        return [chat.message.content, str(result)]

    out = rag("What is the capital of France?")
    out["async"] = asyncio.run(async_chat())
    spanloom.flush()
    print(json.dumps(out))
    """
)


def test_llama_index_chat_stream_query_engine_and_tool(server, client, fake_provider):
    out = run(server, LLAMA_INDEX_SCRIPT, fake_provider.url)
    assert out == {
        "chat": "Echo: hello llama",
        "streamed": "Echo: stream llama",
        "answer": "Echo:",
        "sources": ["kb-1", "kb-2"],
        "weather": "sunny in Paris",
        "failed": "InternalServerError",
        "async": ["Echo: async llama", "Echo: What is the weather in Paris?"],
    }
    rows = project_rows(client, "spanloom-llamaindex-e2e")
    check_closed(rows)
    roots = sorted((r for r in rows if not r["span_parents"]), key=lambda r: r["metrics"]["start"])
    assert names(roots) == ["rag", "async_chat"], tree(rows)
    rag, async_chat = roots
    steps = children(rows, rag)
    assert names(steps) == [
        "OpenAI.chat",
        "OpenAI.stream_chat",
        "OpenAI.stream_chat",
        "SentenceSplitter.__call__",  # building the index: split, then embed
        "OpenAIEmbedding.get_text_embedding_batch",
        "RetrieverQueryEngine.query",
        "FunctionTool.call",
        "OpenAI.chat",
    ], tree(rows)
    chat, streamed, closed, split, embed_docs, query, tool, failed = steps

    # LLM spans follow the conventions: messages in, assistant message out, model, provider and
    # parameters in metadata, the provider's token usage in metrics.
    assert chat["span_attributes"]["type"] == "llm"
    assert chat["input"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello llama"}]
    assert chat["output"] == {"role": "assistant", "content": "Echo: hello llama"}
    assert chat["metadata"]["model"] == "gpt-4o-mini" and chat["metadata"]["provider"] == "openai" and chat["metadata"]["temperature"] == 0.2
    assert chat["metrics"]["prompt_tokens"] > 0 and chat["metrics"]["completion_tokens"] == 3
    assert chat["metrics"]["tokens"] == chat["metrics"]["prompt_tokens"] + 3 and "time_to_first_token" not in chat["metrics"]
    # A stream's span lasts until the stream is read to the end, with the usage of its last chunk.
    assert streamed["input"] == [{"role": "user", "content": "stream llama"}]
    assert streamed["output"] == {"role": "assistant", "content": "Echo: stream llama"} and streamed["metadata"]["stream"] is True
    assert streamed["metadata"]["stream_options"] == {"include_usage": True} and streamed["metrics"]["completion_tokens"] == 3
    assert 0 < streamed["metrics"]["time_to_first_token"] <= streamed["metrics"]["end"] - streamed["metrics"]["start"]
    assert not children(rows, chat) and not children(rows, streamed)
    # A stream the caller stopped reading ends then, with what it had produced, and no error.
    assert closed["metadata"]["stream_closed_early"] is True and "error" not in closed
    assert closed["output"]["role"] == "assistant" and closed["metrics"]["end"] < split["metrics"]["start"]

    # Index building: the documents split into nodes, the nodes embedded (no vectors logged).
    assert [n["text"] for n in split["output"]] == ["Paris is the capital of France.", "Berlin is the capital of Germany."]
    assert embed_docs["span_attributes"]["type"] == "llm" and embed_docs["output"] == {"embeddings": 2, "dimensions": 3}
    assert embed_docs["metadata"]["model"] == "text-embedding-3-small" and len(embed_docs["input"]["texts"]) == 2

    # The query: retrieve (embedding the question; the nodes as output), then synthesize with an LLM call.
    assert query["span_attributes"]["type"] == "task" and query["input"] == "What is the capital of France?"
    assert query["output"].startswith("Echo: Context information is below.")
    retrieve, synthesize = children(rows, query)
    assert names([retrieve, synthesize]) == ["VectorIndexRetriever.retrieve", "CompactAndRefine.synthesize"], tree(rows)
    assert retrieve["input"] == "What is the capital of France?"
    assert sorted((n["metadata"]["source"], n["text"]) for n in retrieve["output"]) == [
        ("kb-1", "Paris is the capital of France."),
        ("kb-2", "Berlin is the capital of Germany."),
    ]
    assert all(isinstance(n["score"], float) and n["id"] for n in retrieve["output"])
    [embed_query] = children(rows, retrieve)
    assert embed_query["span_attributes"]["name"] == "OpenAIEmbedding.get_query_embedding" and embed_query["output"] == {"embeddings": 1, "dimensions": 3}
    [answer_llm] = [r for r in descendants(rows, synthesize) if r["span_attributes"]["type"] == "llm"]
    assert answer_llm["span_attributes"]["name"] == "OpenAI.chat"
    assert [m["role"] for m in answer_llm["input"]] == ["system", "user"] and "Paris is the capital of France." in answer_llm["input"][1]["content"]
    assert answer_llm["output"]["content"] == query["output"] and answer_llm["metrics"]["prompt_tokens"] > 20

    # A tool: its function's own span nests under the tool's.
    assert tool["span_attributes"]["type"] == "tool" and tool["input"] == {"city": "Paris"} and tool["output"] == "sunny in Paris"
    assert names(children(rows, tool)) == ["forecast"]

    # A failed call: the traceback, no output.
    assert failed["metadata"]["model"] == "error-500" and "InternalServerError" in failed["error"] and "Traceback" in failed["error"]
    assert failed.get("output") is None

    # Async calls nest the same way.
    achat, agent = children(rows, async_chat)
    assert achat["span_attributes"] == {**achat["span_attributes"], "name": "OpenAI.achat", "type": "llm"}
    assert achat["output"] == {"role": "assistant", "content": "Echo: async llama"} and achat["metrics"]["completion_tokens"] == 3
    # The workflow agent: one span for the run, one per step, the streamed LLM calls (the first
    # asks for the tool, the second answers with its result) and the tool under their steps.
    assert agent["span_attributes"] == {**agent["span_attributes"], "name": "FunctionAgent.run", "type": "task"}
    model_calls = [r for r in descendants(rows, agent) if r["span_attributes"]["type"] == "llm"]
    assert names(model_calls) == ["OpenAI.astream_chat", "OpenAI.astream_chat"], tree(rows)
    ask, reply = model_calls
    assert ask["output"]["tool_calls"][0]["function"]["name"] == "get_weather" and ask["metadata"]["stream"] is True
    assert ask["metadata"]["tools"][0]["function"]["name"] == "get_weather"
    assert ask["metrics"]["time_to_first_token"] > 0 and ask["metrics"]["end"] > ask["metrics"]["start"]
    assert [m["role"] for m in reply["input"]] == ["user", "assistant", "tool"] and reply["input"][2]["content"] == "sunny in Paris"
    assert reply["output"]["content"] == "Echo: What is the weather in Paris?"
    [agent_tool] = [r for r in descendants(rows, agent) if r["span_attributes"]["type"] == "tool"]
    assert agent_tool["span_attributes"]["name"] == "FunctionTool.acall" and agent_tool["output"] == "sunny in Paris"
    assert names(children(rows, agent_tool)) == ["forecast"]
