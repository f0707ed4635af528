package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonRawSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tool calling on kvtiny with Qwen2.5's chat template as an override (kvtiny was never trained to call tools,
 * and no tool-capable real model can be had here): the mechanics, not the model's judgement. With
 * {@link ToolChoice#REQUIRED} llama.cpp's tool-call grammar shapes the answer, so even this model's answer is a
 * tool call whose arguments follow the tool's schema; with AUTO the grammar waits for the template's
 * {@code <tool_call>} marker, which kvtiny does not write, so the answer is text.
 */
class ToolCallingIT {

    static final ToolSpecification ADD = ToolSpecification.builder()
            .name("add_two_numbers")
            .description("Adds two integers")
            .parameters(JsonObjectSchema.builder()
                    .addIntegerProperty("a")
                    .addIntegerProperty("b")
                    .required("a", "b")
                    .build())
            .build();

    static final ToolSpecification WEATHER = ToolSpecification.builder()
            .name("weather")
            .description("The weather in a city")
            .parameters(JsonObjectSchema.builder()
                    .addEnumProperty("city", List.of("Munich", "Paris", "Tokyo"))
                    .addEnumProperty("unit", List.of("celsius", "fahrenheit"))
                    .required("city", "unit")
                    .build())
            .build();

    static DeltaKvEngine engine;
    static DeltaKvChatModel model;

    @BeforeAll
    static void load() {
        engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(2048)
                .threads(TestModels.threads()).chatTemplate(ChatTemplates.qwen25()).build();
        model = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(400).build();
    }

    @AfterAll
    static void close() {
        if (engine != null) {
            engine.close();
        }
    }

    static ChatResponse chat(ToolChoice choice, UserMessage message, ToolSpecification... tools) {
        return model.chat(ChatRequest.builder().messages(message)
                .parameters(ChatRequestParameters.builder().toolSpecifications(tools).toolChoice(choice).build())
                .build());
    }

    @Test
    void a_template_with_tool_calls_advertises_tools() {
        assertThat(engine.templateSupportsTools()).isTrue();
    }

    @Test
    void required_gives_tool_calls_whose_arguments_follow_the_schema() throws Exception {
        ChatResponse response = chat(ToolChoice.REQUIRED, UserMessage.from("What is 2 plus 3?"), ADD, WEATHER);

        List<ToolExecutionRequest> calls = response.aiMessage().toolExecutionRequests();
        assertThat(calls).as(response.toString()).isNotEmpty();
        // kvtiny may go on writing calls until maxTokens (400): then the answer was cut (LENGTH), the call it was
        // writing is dropped and the complete ones come back; an answer that ended by itself is TOOL_EXECUTION
        assertThat(response.metadata().finishReason()).isEqualTo(response.tokenUsage().outputTokenCount() < 400
                ? FinishReason.TOOL_EXECUTION : FinishReason.LENGTH);
        for (ToolExecutionRequest call : calls) {
            assertThat(call.id()).isNotBlank();
            assertThat(call.name()).isIn(ADD.name(), WEATHER.name());
            JsonNode args = new ObjectMapper().readTree(call.arguments());
            if (call.name().equals(ADD.name())) {
                assertThat(args.get("a").isIntegralNumber()).as(call.arguments()).isTrue();
                assertThat(args.get("b").isIntegralNumber()).as(call.arguments()).isTrue();
            } else {
                assertThat(args.get("city").asText()).isIn("Munich", "Paris", "Tokyo");
                assertThat(args.get("unit").asText()).isIn("celsius", "fahrenheit");
            }
        }
        assertThat(calls).extracting(ToolExecutionRequest::id).doesNotHaveDuplicates();
    }

    @Test
    void none_renders_the_tools_but_answers_in_text() {
        UserMessage question = UserMessage.from("What is the weather in Paris?");
        ChatResponse withTools = chat(ToolChoice.NONE, question, WEATHER);
        ChatResponse plain = model.chat(question);

        assertThat(withTools.aiMessage().toolExecutionRequests()).isEmpty();
        assertThat(withTools.aiMessage().text()).isNotNull();
        assertThat(withTools.metadata().finishReason()).isIn(FinishReason.STOP, FinishReason.LENGTH);
        // the tool's definition is in the prompt
        assertThat(withTools.tokenUsage().inputTokenCount()).isGreaterThan(plain.tokenUsage().inputTokenCount() + 20);
    }

    @Test
    void auto_waits_for_the_templates_tool_call_marker() {
        ChatResponse response = chat(ToolChoice.AUTO, UserMessage.from("What is the weather in Paris?"), WEATHER);

        // kvtiny never writes <tool_call>: the lazy grammar stays off and the answer is free text
        assertThat(response.aiMessage().toolExecutionRequests()).isEmpty();
        assertThat(response.aiMessage().text()).isNotBlank().doesNotContain("<tool_call>");
    }

    @Test
    void a_tool_result_goes_back_through_the_template() {
        UserMessage question = UserMessage.from("What is the weather in Munich?");
        ToolExecutionRequest call = ToolExecutionRequest.builder().id("call_1").name(WEATHER.name())
                .arguments("{\"city\": \"Munich\", \"unit\": \"celsius\"}").build();
        AiMessage asked = AiMessage.from(call);
        ToolExecutionResultMessage result = ToolExecutionResultMessage.from(call, "sunny, 21 degrees");

        ChatResponse first = chat(ToolChoice.AUTO, question, WEATHER);
        ChatResponse answer = model.chat(ChatRequest.builder().messages(question, asked, result)
                .parameters(ChatRequestParameters.builder().toolSpecifications(WEATHER).build()).build());

        assertThat(answer.aiMessage().toolExecutionRequests()).isEmpty();
        assertThat(answer.tokenUsage().inputTokenCount())
                .as("the call and its result are rendered into the prompt")
                .isGreaterThan(first.tokenUsage().inputTokenCount() + 10);
    }

    @Test
    void streaming_hands_over_the_arguments_piece_by_piece() throws Exception {
        DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).temperature(0.0)
                .maxTokens(400).build();
        Recorder recorder = new Recorder();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("What is 2 plus 3?"))
                .parameters(ChatRequestParameters.builder().toolSpecifications(ADD).toolChoice(ToolChoice.REQUIRED).build())
                .build(), recorder);
        ChatResponse response = recorder.done.get(2, TimeUnit.MINUTES);
        List<PartialToolCall> partials = recorder.partialToolCalls;
        List<CompleteToolCall> completes = recorder.completeToolCalls;
        assertThat(recorder.errors).isEmpty();

        List<ToolExecutionRequest> calls = response.aiMessage().toolExecutionRequests();
        assertThat(calls).isNotEmpty();
        assertThat(completes).extracting(CompleteToolCall::toolExecutionRequest).containsExactlyElementsOf(calls);
        for (int i = 0; i < calls.size(); i++) {
            int index = i;
            List<PartialToolCall> pieces = partials.stream().filter(p -> p.index() == index).toList();
            assertThat(pieces).isNotEmpty().allSatisfy(p -> {
                assertThat(p.id()).isEqualTo(calls.get(index).id());
                assertThat(p.name()).isEqualTo(calls.get(index).name());
            });
            String joined = pieces.stream().map(PartialToolCall::partialArguments).reduce("", String::concat);
            assertThat(joined).isEqualTo(calls.get(index).arguments());
        }
        assertThat(String.join("", recorder.partials))
                .isEqualTo(response.aiMessage().text() == null ? "" : response.aiMessage().text());
    }

    interface Calculator {
        String ask(String question);
    }

    static final class AddTool {
        final List<long[]> calls = new CopyOnWriteArrayList<>();

        @Tool("Adds two integers")
        long add(long a, long b) { // long: the schema's "integer" has no bound, and kvtiny writes long numbers
            calls.add(new long[] {a, b});
            return a + b;
        }
    }

    @Test
    void ai_services_run_a_tool_method_and_answer() {
        AddTool tool = new AddTool();
        // kvtiny never calls a tool on its own: force a call on the user's turn, answer in text after the result
        Calculator calculator = AiServices.builder(Calculator.class)
                .chatModel(model)
                .tools(tool)
                .chatRequestTransformer(request -> {
                    boolean usersTurn = request.messages().get(request.messages().size() - 1) instanceof UserMessage;
                    ToolChoice choice = usersTurn ? ToolChoice.REQUIRED : ToolChoice.NONE;
                    return request.toBuilder().parameters(request.parameters().overrideWith(
                            ChatRequestParameters.builder().toolChoice(choice).build())).build();
                })
                .build();

        String answer = calculator.ask("What is 2 plus 3?");

        assertThat(tool.calls).isNotEmpty(); // the model's call reached the @Tool method with two integers
        assertThat(answer).isNotNull();
    }

    @Test
    void tools_on_a_template_without_tool_calls_fail_clearly() {
        try (DeltaKvChatModel plain = TestModels.kvtinyGreedy(1024, 8)) {
            assertThat(plain.engine().templateSupportsTools()).isFalse();
            ChatRequest request = ChatRequest.builder().messages(UserMessage.from("hi"))
                    .parameters(ChatRequestParameters.builder().toolSpecifications(WEATHER).build()).build();
            assertThatThrownBy(() -> plain.chat(request))
                    .isInstanceOf(UnsupportedFeatureException.class)
                    .hasMessageContaining("tools are not supported by the chat template");
        }
    }

    @Test
    void a_tool_schema_that_is_not_json_schema_fails_clearly_and_the_model_goes_on() {
        ToolSpecification broken = ToolSpecification.builder().name("broken")
                .parameters(JsonObjectSchema.builder()
                        .addProperty("x", JsonRawSchema.from("{\"type\": \"no-such-type\"}"))
                        .build())
                .build();

        assertThatThrownBy(() -> chat(ToolChoice.REQUIRED, UserMessage.from("hi"), broken))
                .isInstanceOf(RuntimeException.class)
                .hasMessageContaining("no-such-type");
        assertThat(chat(ToolChoice.REQUIRED, UserMessage.from("What is 2 plus 3?"), ADD)
                .aiMessage().toolExecutionRequests()).isNotEmpty();
    }

    @Test
    void required_without_tools_is_refused() {
        ChatRequest request = ChatRequest.builder().messages(UserMessage.from("hi"))
                .parameters(ChatRequestParameters.builder().toolChoice(ToolChoice.REQUIRED).build()).build();
        assertThatThrownBy(() -> model.chat(request))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one tool");
    }
}
