package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonRawSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Structured output: JSON mode and JSON schemas constrain sampling through a grammar, so the answer
 * follows the schema even from a 13M-parameter model, and AiServices returns Java records. A free-text
 * string can still run into the token limit: the answer is then cut and the finish reason is LENGTH.
 */
class StructuredOutputIT {

    record MagicNumber(long number, boolean found) {
    }

    interface Extractor {
        MagicNumber extract(String text);
    }

    static DeltaKvChatModel model;

    @BeforeAll
    static void load() {
        model = TestModels.kvtinyGreedy(2048, 96);
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void ai_services_return_a_record_parsed_from_schema_constrained_output() {
        Haystacks.Needle needle = Haystacks.needle(800, 0.5, 21);
        Extractor extractor = AiServices.create(Extractor.class, model);

        MagicNumber result = extractor.extract(needle.message());

        assertThat(result).isNotNull(); // parsed: a grammar made from the record's schema shaped the answer
    }

    @Test
    void a_raw_schema_is_followed() throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"answer\": {\"type\": \"integer\"}},"
                + " \"required\": [\"answer\"], \"additionalProperties\": false}";
        ResponseFormat format = ResponseFormat.builder().type(ResponseFormatType.JSON)
                .jsonSchema(JsonSchema.builder().name("answer").rootElement(JsonRawSchema.from(schema)).build()).build();

        String text = model.chat(ChatRequest.builder()
                .messages(UserMessage.from(Haystacks.needle(300, 0.7, 9).message()))
                .responseFormat(format).build()).aiMessage().text();

        JsonNode node = new ObjectMapper().readTree(text);
        assertThat(node.fieldNames()).toIterable().containsExactly("answer");
        assertThat(node.get("answer").isIntegralNumber()).as(text).isTrue();
    }

    @Test
    void json_cut_by_max_tokens_reports_length() {
        // kvtiny never closes a free-text string: the token limit ends the answer, and says so
        ChatResponse response = model.chat(ChatRequest.builder()
                .messages(UserMessage.from("Tell me a story."))
                .responseFormat(ResponseFormat.JSON)
                .maxOutputTokens(24)
                .build());
        assertThat(response.aiMessage().text()).startsWith("{");
        assertThat(response.finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    @Test
    void a_schema_that_is_not_json_is_refused() {
        ResponseFormat format = ResponseFormat.builder().type(ResponseFormatType.JSON)
                .jsonSchema(JsonSchema.builder().name("bad").rootElement(JsonRawSchema.from("{not json")).build()).build();

        assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("Hello"))
                .responseFormat(format).build()))
                .isInstanceOf(io.github.deltakv.langchain4j.DeltaKvException.class);
        assertThat(model.chat("Hello")).isNotNull(); // the model stays usable
    }
}
