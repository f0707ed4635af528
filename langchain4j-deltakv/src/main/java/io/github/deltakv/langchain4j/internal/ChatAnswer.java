package io.github.deltakv.langchain4j.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;

/**
 * An answer read back by the chat template's parser: its content, its reasoning and the tool calls in it
 * (ids as the model gave them, usually none).
 */
public record ChatAnswer(String content, String reasoning, List<ToolCall> toolCalls) {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** One tool call; {@code arguments} is JSON text (incomplete while the answer is still growing). */
    public record ToolCall(String id, String name, String arguments) {
    }

    /** Reads the JSON the native parser writes. */
    public static ChatAnswer fromJson(String json) {
        try {
            JsonNode node = MAPPER.readTree(json);
            List<ToolCall> calls = new ArrayList<>();
            for (JsonNode call : node.path("tool_calls")) {
                calls.add(new ToolCall(call.path("id").asText(""), call.path("name").asText(""),
                        call.path("arguments").asText("")));
            }
            return new ChatAnswer(node.path("content").asText(""), node.path("reasoning_content").asText(""),
                    List.copyOf(calls));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the native parser wrote invalid JSON: " + json, e);
        }
    }

    /** Whether {@code json} is one complete JSON value. */
    public static boolean isCompleteJson(String json) {
        try {
            MAPPER.readTree(json);
            return !json.isBlank();
        } catch (JsonProcessingException e) {
            return false;
        }
    }
}
