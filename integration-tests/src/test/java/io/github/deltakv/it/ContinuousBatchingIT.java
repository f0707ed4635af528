package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.TimeoutException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatRequestParameters;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvException;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;
import io.github.deltakv.langchain4j.ServingStats;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

import org.junit.jupiter.api.Test;

/**
 * Concurrent calls on one model run as sequences of one context, their answers decoded together: greedy answers
 * equal to each request run alone, a cancelled stream leaving the others as they were, a call cancelled while it
 * waits never evaluated, calls that do not fit waiting instead of failing, and a close that ends every call with a
 * clear exception.
 */
class ContinuousBatchingIT {

    static final ToolSpecification WEATHER = ToolSpecification.builder()
            .name("weather")
            .description("The weather in a city")
            .parameters(JsonObjectSchema.builder()
                    .addEnumProperty("city", List.of("Munich", "Paris", "Tokyo"))
                    .required("city")
                    .build())
            .build();

    static final ResponseFormat JSON_ANSWER = ResponseFormat.builder().type(ResponseFormatType.JSON)
            .jsonSchema(JsonSchema.builder().name("answer").rootElement(JsonObjectSchema.builder()
                    .addStringProperty("value").required("value").build()).build())
            .build();

    /**
     * Eight kinds of call: plain, JSON schema and tool calls, by a blocking and a streaming model; greedy needle
     * questions, which kvtiny answers with confidence (with Qwen2.5's template, for the tool calls, its text is
     * less sure: 12 tokens each).
     */
    static ChatRequest request(int i) {
        ChatRequest.Builder b = ChatRequest.builder().messages(UserMessage.from(
                Haystacks.needle(300, (i % 5) / 5.0, 100 + i).message()));
        DeltaKvChatRequestParameters.Builder p = DeltaKvChatRequestParameters.builder().temperature(0.0).maxOutputTokens(12);
        if (i % 4 == 1) {
            p.responseFormat(JSON_ANSWER);
        } else if (i % 4 == 2) {
            p.toolSpecifications(WEATHER).toolChoice(ToolChoice.REQUIRED);
        }
        return b.parameters(p.build()).build();
    }

    static DeltaKvEngine engine(int sequences) {
        return DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(4096).threads(TestModels.threads())
                .chatTemplate(ChatTemplates.qwen25()).maxSequences(sequences).build();
    }

    static String answer(ChatResponse r) {
        return r.aiMessage().text() + " " + r.aiMessage().toolExecutionRequests() + " " + r.finishReason();
    }

    @Test
    void eight_concurrent_calls_decode_together_and_answer_as_each_alone() throws Exception {
        List<String> alone = new ArrayList<>();
        try (DeltaKvEngine one = engine(1)) {
            DeltaKvChatModel model = DeltaKvChatModel.builder().engine(one).build();
            for (int i = 0; i < 8; i++) {
                alone.add(answer(model.chat(request(i))));
            }
        }
        try (DeltaKvEngine engine = engine(8)) {
            DeltaKvChatModel blocking = DeltaKvChatModel.builder().engine(engine).build();
            DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).build();
            List<String> together = runTogether(8, i -> i % 2 == 0
                    ? blocking.chat(request(i))
                    : stream(streaming, request(i), null).join());

            assertThat(together).isEqualTo(alone);
            ServingStats stats = engine.servingStats();
            assertThat(stats.largestStep()).as("answers decoded in one step").isGreaterThanOrEqualTo(4);
            assertThat(stats.running()).isZero();
        }
    }

    /** An engine with kvtiny's own chat template (the one it was trained with). */
    static DeltaKvEngine plainEngine(int sequences) {
        return DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(4096).threads(TestModels.threads())
                .maxSequences(sequences).build();
    }

    @Test
    void a_stream_cancelled_midway_leaves_the_other_answers_unchanged() throws Exception {
        List<String> alone = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            try (DeltaKvEngine one = plainEngine(1)) { // each on a context of its own: no prefix of another reused
                alone.add(answer(DeltaKvChatModel.builder().engine(one).build().chat(request(4 * i))));
            }
        }
        try (DeltaKvEngine engine = plainEngine(4)) {
            DeltaKvChatModel blocking = DeltaKvChatModel.builder().engine(engine).build();
            DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).build();
            AtomicBoolean cancelled = new AtomicBoolean();
            CompletableFuture<ChatResponse> victim = stream(streaming, request(3), (partial, context) -> {
                context.streamingHandle().cancel();
                cancelled.set(true);
            });
            List<String> others = runTogether(3, i -> blocking.chat(request(4 * i)));

            assertThat(others).isEqualTo(alone);
            assertThat(cancelled).isTrue();
            assertThat(victim).isNotDone(); // a cancelled stream ends without onCompleteResponse or onError
        }
    }

    @Test
    void a_call_cancelled_while_it_waits_is_never_evaluated() throws Exception {
        // one sequence, held by a long prompt read in small slices (seconds); the next call times out in the queue;
        // then the long one's thread is interrupted, which cancels it
        try (DeltaKvEngine engine = longPromptEngine().queueTimeout(Duration.ofMillis(300)).build()) {
            DeltaKvChatModel model = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(8).build();
            CompletableFuture<Throwable> first = new CompletableFuture<>();
            Thread longCall = new Thread(() -> {
                try {
                    model.chat(user(longPrompt()));
                    first.complete(null);
                } catch (RuntimeException e) {
                    first.complete(e);
                }
            });
            longCall.start();
            awaitRunning(engine, 1);

            assertThatThrownBy(() -> model.chat(request(5))).isInstanceOf(TimeoutException.class)
                    .hasMessageContaining("queueTimeout");
            longCall.interrupt();

            assertThat(first.get(1, TimeUnit.MINUTES)).isInstanceOf(DeltaKvException.class).hasMessageContaining("interrupted");
            ServingStats stats = engine.servingStats();
            assertThat(stats.callsStarted()).as("the call that timed out never started").isEqualTo(1);
            assertThat(stats.waiting()).isZero();
            assertThat(stats.running()).isZero();
            assertThat(model.chat(request(5)).aiMessage()).isNotNull();
        }
    }

    @Test
    void calls_that_do_not_fit_the_free_cells_wait_and_none_fails_for_memory() throws Exception {
        // 1024 cells: a call needs its prompt (~40) and 400 answer tokens, so two run and the others wait
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(1024)
                .threads(TestModels.threads()).maxSequences(4).build()) {
            DeltaKvChatModel model = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(400).build();
            List<String> answers = runTogether(6, i -> model.chat(user("Call " + i + ": tell me a long story about the sea.")));

            assertThat(answers).hasSize(6).allSatisfy(a -> assertThat(a).isNotBlank());
            assertThat(engine.servingStats().largestStep()).isBetween(1, 2);
        }
    }

    @Test
    void a_conversation_coming_back_continues_its_own_sequence() {
        try (DeltaKvEngine engine = engine(4)) {
            DeltaKvChatModel model = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(8).build();
            List<dev.langchain4j.data.message.ChatMessage> a = new ArrayList<>(List.of(UserMessage.from(
                    "Conversation A. " + "The ship sailed on through the long grey morning. ".repeat(20))));
            List<dev.langchain4j.data.message.ChatMessage> b = new ArrayList<>(List.of(UserMessage.from(
                    "Conversation B. " + "The whale rose once more from the dark water. ".repeat(20))));
            ChatResponse a1 = model.chat(ChatRequest.builder().messages(a).build());
            ChatResponse b1 = model.chat(ChatRequest.builder().messages(b).build());
            a.add(a1.aiMessage());
            a.add(UserMessage.from("And then?"));
            ChatResponse a2 = model.chat(ChatRequest.builder().messages(a).build());

            int promptA1 = a1.tokenUsage().inputTokenCount();
            assertThat(b1.tokenUsage().inputTokenCount()).isGreaterThan(100);
            assertThat(((io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata) a2.metadata()).promptTokensReused())
                    .as("the second turn of A reuses A's sequence, B's call did not replace it").isGreaterThan(promptA1 - 2);
            assertThat(engine.prefixCacheStats().hits()).isZero();
        }
    }

    @Test
    void closing_the_model_ends_running_and_waiting_calls_with_an_exception() throws Exception {
        DeltaKvEngine engine = longPromptEngine().build();
        DeltaKvChatModel model = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(8).build();
        DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).temperature(0.0)
                .maxTokens(8).build();
        CompletableFuture<ChatResponse> running = CompletableFuture.supplyAsync(() -> model.chat(user(longPrompt())));
        awaitRunning(engine, 1);
        CompletableFuture<ChatResponse> waiting = CompletableFuture.supplyAsync(() -> model.chat(user("And another one.")));
        CompletableFuture<ChatResponse> streamWaiting = stream(streaming, ChatRequest.builder()
                .messages(UserMessage.from("A third one.")).build(), null);
        awaitWaiting(engine, 2);

        engine.close();

        for (CompletableFuture<ChatResponse> call : List.of(running, waiting, streamWaiting)) {
            assertThatThrownBy(() -> call.get(1, TimeUnit.MINUTES)).hasCauseInstanceOf(DeltaKvException.class)
                    .hasMessageContaining("closed");
        }
        assertThat(engine.isClosed()).isTrue();
        assertThatThrownBy(() -> model.chat("After close")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void a_call_from_inside_a_handler_of_the_same_model_is_refused_and_the_stream_goes_on() throws Exception {
        try (DeltaKvEngine engine = engine(2)) {
            DeltaKvChatModel blocking = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(16).build();
            DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).temperature(0.0)
                    .maxTokens(16).build();
            CompletableFuture<Throwable> nested = new CompletableFuture<>();
            ChatResponse r = stream(streaming, request(0), (partial, context) -> {
                try {
                    blocking.chat("nested");
                    nested.complete(null);
                } catch (RuntimeException e) {
                    nested.complete(e);
                }
            }).get(2, TimeUnit.MINUTES);

            assertThat(nested.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("inside");
            assertThat(r.aiMessage().text()).isEqualTo(blocking.chat(request(0)).aiMessage().text());
        }
    }

    /** One sequence of 16K cells that reads prompts 16 tokens a slice: a 12K-token prompt keeps it busy for seconds. */
    static DeltaKvEngine.Builder longPromptEngine() {
        return DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(16384).batchSize(16)
                .threads(TestModels.threads()).maxSequences(1);
    }

    /** About 12K tokens of prose for kvtiny. */
    static String longPrompt() {
        return "The ship sailed on through the long grey morning, and the sea was calm. ".repeat(750);
    }

    static ChatRequest user(String text) {
        return ChatRequest.builder().messages(UserMessage.from(text)).build();
    }

    /** Runs n calls at once (call i on its own thread, all started together); their answers in order. */
    static List<String> runTogether(int n, Function<Integer, ChatResponse> call) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<String>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int id = i;
                futures.add(pool.submit(() -> {
                    start.await();
                    return answer(call.apply(id));
                }));
            }
            start.countDown();
            List<String> out = new ArrayList<>();
            for (Future<String> f : futures) {
                out.add(f.get(5, TimeUnit.MINUTES));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    interface OnPartial {
        void accept(PartialResponse partial, PartialResponseContext context);
    }

    /** A stream's response; onPartial, if given, runs at the first partial response. */
    static CompletableFuture<ChatResponse> stream(DeltaKvStreamingChatModel model, ChatRequest request, OnPartial onPartial) {
        CompletableFuture<ChatResponse> response = new CompletableFuture<>();
        AtomicBoolean first = new AtomicBoolean(true);
        model.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                if (onPartial != null && first.getAndSet(false)) {
                    onPartial.accept(partial, context);
                }
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                response.complete(r);
            }

            @Override
            public void onError(Throwable error) {
                response.completeExceptionally(error);
            }
        });
        return response;
    }

    static void awaitRunning(DeltaKvEngine engine, int n) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (engine.servingStats().running() < n && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        assertThat(engine.servingStats().running()).isGreaterThanOrEqualTo(n);
    }

    static void awaitWaiting(DeltaKvEngine engine, int n) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (engine.servingStats().waiting() < n && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        assertThat(engine.servingStats().waiting()).isGreaterThanOrEqualTo(n);
    }
}
