// The Vercel AI SDK (`ai`) as a real OTel emitter: generateText with a tool, then streamText,
// against the fake provider, exported as OTLP/JSON to Spanloom.
//
//   node emit.mjs SPANLOOM_URL API_KEY PROVIDER_URL PROJECT
//
// Prints {"trace_id": ...} of the run.
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText, tool, stepCountIs } from "ai";
import { z } from "zod";

const [spanloom, key, providerUrl, project] = process.argv.slice(2);
const exporter = new OTLPTraceExporter({
  url: `${spanloom}/v1/traces`,
  headers: { authorization: `Bearer ${key}`, "x-bt-parent": `project_name:${project}` },
});
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "emitter-ai-sdk" }),
  spanProcessors: [new BatchSpanProcessor(exporter)],
});
provider.register();

const openai = createOpenAI({ baseURL: `${providerUrl}/v1`, apiKey: "sk-fake" });
const telemetry = { isEnabled: true, functionId: "weather-bot", metadata: { sessionId: "sess-ai", userId: "u-ai" } };
const tracer = trace.getTracer("spanloom.e2e.agent");

const traceId = await tracer.startActiveSpan("support-agent", async (root) => {
  await generateText({
    model: openai.chat("gpt-4o-mini"),
    system: "You are terse.",
    prompt: "What is the weather in Paris?",
    tools: {
      get_weather: tool({
        description: "Weather of a city",
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => ({ forecast: "sunny", celsius: 21, city }),
      }),
    },
    stopWhen: stepCountIs(2),
    experimental_telemetry: telemetry,
  });
  const stream = streamText({
    model: openai.chat("gpt-4o-mini"),
    prompt: "Summarize the forecast",
    experimental_telemetry: telemetry,
  });
  let text = "";
  for await (const part of stream.textStream) text += part;
  root.end();
  return { trace_id: root.spanContext().traceId, streamed_text: text };
});
await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify(traceId));
