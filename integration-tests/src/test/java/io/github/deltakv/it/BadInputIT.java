package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.request.json.JsonRawSchema;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatRequestParameters;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Every user mistake gives a clear Java exception, never a JVM crash; models stay usable where that makes sense. */
class BadInputIT {

    @TempDir
    Path tmp;

    private static DeltaKvChatModel.Builder kvtiny() {
        return DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).threads(TestModels.threads())
                .temperature(0.0).maxTokens(8);
    }

    @Test
    void missing_model_file() {
        Path missing = tmp.resolve("no-such-model.gguf");
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(missing).build())
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("model file not found")
                .hasMessageContaining(missing.toString());
    }

    @Test
    void file_that_is_not_gguf() throws IOException {
        Path text = Files.writeString(tmp.resolve("notes.gguf"), "this is not a model\n");
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(text).build())
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("not a GGUF model file");
    }

    @ParameterizedTest(name = "truncated to {0} bytes")
    @ValueSource(ints = {4, 64, 4096, 7_000_000})
    void truncated_gguf(int length) throws IOException {
        byte[] whole = Files.readAllBytes(TestModels.kvtiny());
        Path truncated = Files.write(tmp.resolve("truncated.gguf"), Arrays.copyOf(whole, length));
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(truncated).build())
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("truncated.gguf");
    }

    @ParameterizedTest(name = "contextSize {0}")
    @ValueSource(ints = {0, -1, -4096})
    void context_size_zero_or_negative(int contextSize) {
        assertThatThrownBy(() -> kvtiny().contextSize(contextSize).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("contextSize must be positive");
    }

    @ParameterizedTest(name = "contextSize {0}, DeltaKV {1}")
    @MethodSource("contextsLargerThanTheMachine")
    void context_larger_than_the_machine_is_refused_before_allocating(int contextSize, boolean deltaKv) {
        DeltaKvChatModel.Builder builder = kvtiny().contextSize(contextSize);
        if (deltaKv) {
            builder.deltaKv(DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-identity.deltakv.gguf")));
        }
        assertThatThrownBy(builder::build).isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("a context of " + contextSize + " tokens needs at least")
                .hasMessageContaining("choose a smaller contextSize");
        try (DeltaKvChatModel model = kvtiny().contextSize(512).build()) {
            assertThat(model.chat("Hello").length()).isPositive();
        }
    }

    static Stream<Arguments> contextsLargerThanTheMachine() {
        return Stream.of(Arguments.of(Integer.MAX_VALUE, false), Arguments.of(1 << 28, false),
                Arguments.of(Integer.MAX_VALUE, true), Arguments.of(1 << 28, true));
    }

    @Test
    void other_parameters_out_of_range() {
        assertThatThrownBy(() -> kvtiny().threads(0).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("threads");
        assertThatThrownBy(() -> kvtiny().gpuLayers(-2).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gpuLayers");
        assertThatThrownBy(() -> kvtiny().temperature(-0.5).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> kvtiny().topP(1.5).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topP");
    }

    @Test
    void prompt_longer_than_the_context_then_the_model_still_works() {
        try (DeltaKvChatModel model = kvtiny().contextSize(512).build()) {
            String longText = Haystacks.needle(1500, 0.5, 3).message();
            assertThatThrownBy(() -> model.chat(longText))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("context holds 512");

            ChatResponse ok = model.chat(ChatRequest.builder().messages(UserMessage.from("Hello")).build());
            assertThat(ok.tokenUsage().inputTokenCount()).isPositive();
            assertThat(ok.tokenUsage().outputTokenCount()).isPositive();
        }
    }

    /** Each builder setting out of range: the name of the setting in an IllegalArgumentException, before loading. */
    static Stream<Arguments> settingsOutOfRange() {
        return Stream.of(
                Arguments.of("batchSize", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.batchSize(0)),
                Arguments.of("prefixCacheBytes", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.prefixCacheBytes(-1L)),
                Arguments.of("maxQueuedCalls", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.maxQueuedCalls(-1)),
                // more threads than ggml has room for crashed the JVM in libgomp
                Arguments.of("threads", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.threads(10000)),
                Arguments.of("maxSequences", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.maxSequences(0)),
                Arguments.of("maxSequences", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.maxSequences(1000)),
                Arguments.of("queueTimeout", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.queueTimeout(Duration.ZERO)),
                Arguments.of("kvCacheType", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.kvCacheType("q3_x")),
                Arguments.of("kvEviction", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.kvEviction(-1, 64)),
                Arguments.of("topK", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.topK(-1)),
                Arguments.of("minP", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.minP(1.5)),
                Arguments.of("repeatPenalty", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.repeatPenalty(0.0)),
                Arguments.of("repeatLastN", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.repeatLastN(-2)),
                Arguments.of("seed", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.seed(1L << 40)),
                Arguments.of("maxOutputTokens", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.maxTokens(0)),
                Arguments.of("modelPath", (UnaryOperator<DeltaKvChatModel.Builder>) b -> b.modelPath(null)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("settingsOutOfRange")
    void every_setting_out_of_range_is_refused_by_name(String name, UnaryOperator<DeltaKvChatModel.Builder> bad) {
        assertThatThrownBy(() -> bad.apply(kvtiny()).build().close())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(name);
    }

    @Test
    void penalties_that_are_not_finite_are_refused_and_repeat_last_n_covers_at_most_the_context() {
        try (DeltaKvChatModel model = kvtiny().contextSize(512).temperature(0.0).maxTokens(24).build()) {
            assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("hi"))
                    .parameters(DeltaKvChatRequestParameters.builder().frequencyPenalty(Double.NaN).build()).build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("frequencyPenalty");
            assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("hi"))
                    .parameters(DeltaKvChatRequestParameters.builder().presencePenalty(Double.POSITIVE_INFINITY).build())
                    .build())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("presencePenalty");

            // a needle question: kvtiny answers with a number whose digits repeat under no penalty
            String question = Haystacks.needle(200, 0.5, 3).message();
            java.util.function.IntFunction<String> withLastN = lastN -> model.chat(ChatRequest.builder()
                    .messages(UserMessage.from(question)).parameters(DeltaKvChatRequestParameters.builder()
                            .repeatPenalty(3.0).repeatLastN(lastN).build()).build()).aiMessage().text();
            String off = withLastN.apply(0);
            String whole = withLastN.apply(-1); // -1: the whole context, as in llama.cpp
            assertThat(whole).isNotEqualTo(off);
            // beyond the context it is the context (an Integer.MAX_VALUE window took 8.5 GB before)
            assertThat(withLastN.apply(Integer.MAX_VALUE)).isEqualTo(whole);
        }
    }

    @Test
    void a_json_schema_with_an_empty_enum_is_refused() {
        try (DeltaKvChatModel model = kvtiny().contextSize(512).build()) {
            // LangChain4j's schema builder refuses an empty enum; a raw schema can have one
            ResponseFormat format = ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(JsonSchema.builder()
                    .name("color").rootElement(JsonRawSchema.from("{\"type\": \"object\", \"properties\": "
                            + "{\"color\": {\"enum\": []}}, \"required\": [\"color\"]}")).build()).build();
            assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("A color?"))
                    .responseFormat(format).build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("enum");
        }
    }

    @Test
    void null_empty_and_blank_messages_and_bad_request_parameters_fail_and_the_model_goes_on() {
        try (DeltaKvChatModel model = kvtiny().contextSize(512).build()) {
            assertThatThrownBy(() -> model.chat((String) null)).isInstanceOf(RuntimeException.class);
            assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(List.of()).build()))
                    .isInstanceOf(RuntimeException.class);
            assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("hi"))
                    .parameters(DeltaKvChatRequestParameters.builder().minP(-0.1).build()).build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("minP");
            assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("hi"))
                    .parameters(DeltaKvChatRequestParameters.builder().topP(0.0).build()).build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topP");
            assertThat(model.chat("Hello")).isNotNull();
        }
    }

    @Test
    void a_chat_template_that_does_not_parse_fails_with_the_reason() {
        assertThatThrownBy(() -> kvtiny().chatTemplate("{% for m in messages %}{{ m.content ").build())
                .isInstanceOf(DeltaKvException.class).hasMessageContaining("the chat template does not parse")
                .hasMessageNotContaining("std::exception");
    }

    @Test
    void a_template_that_raises_an_exception_fails_each_call_with_its_message() {
        try (DeltaKvChatModel model = kvtiny().contextSize(512)
                .chatTemplate("{{ raise_exception('this template takes no user messages') }}").build()) {
            assertThatThrownBy(() -> model.chat("Hello")).isInstanceOf(DeltaKvException.class)
                    .hasMessageContaining("this template takes no user messages");
        }
    }

    @Test
    void call_after_close() {
        DeltaKvChatModel model = kvtiny().contextSize(512).build();
        model.close();
        assertThatThrownBy(() -> model.chat("Hello"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        model.close(); // closing twice is harmless
    }
}
