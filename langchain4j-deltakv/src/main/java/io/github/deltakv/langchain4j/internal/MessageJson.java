package io.github.deltakv.langchain4j.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * LangChain4j messages as the OpenAI-style JSON array that llama.cpp's chat template code reads.
 * Only text goes through: images, audio and other content are refused.
 */
public final class MessageJson {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private MessageJson() {
    }

    /**
     * The texts of a messages JSON that come from its messages (contents, tool-call arguments), in order: what the
     * prompt must keep as text when it is tokenized.
     */
    public static byte[][] contents(String messagesJson) {
        List<byte[]> out = new ArrayList<>();
        try {
            collect(MAPPER.readTree(messagesJson), out);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a messages JSON: " + e.getMessage(), e);
        }
        return out.toArray(byte[][]::new);
    }

    private static void collect(JsonNode node, List<byte[]> out) {
        node.fields().forEachRemaining(f -> {
            if ((f.getKey().equals("content") || f.getKey().equals("arguments")) && f.getValue().isTextual()) {
                out.add(f.getValue().asText().getBytes(StandardCharsets.UTF_8));
            } else {
                collect(f.getValue(), out);
            }
        });
        if (node.isArray()) {
            node.forEach(child -> collect(child, out));
        }
    }

    public static String toJson(List<ChatMessage> messages) {
        ArrayNode array = MAPPER.createArrayNode();
        for (ChatMessage message : messages) {
            array.add(toNode(message));
        }
        return array.toString();
    }

    private static ObjectNode toNode(ChatMessage message) {
        ObjectNode node = MAPPER.createObjectNode();
        if (message instanceof SystemMessage system) {
            node.put("role", "system").put("content", system.text());
        } else if (message instanceof UserMessage user) {
            node.put("role", "user").put("content", userText(user));
        } else if (message instanceof AiMessage ai) {
            node.put("role", "assistant").put("content", ai.text() == null ? "" : ai.text());
            if (ai.hasToolExecutionRequests()) {
                ArrayNode calls = node.putArray("tool_calls");
                for (ToolExecutionRequest request : ai.toolExecutionRequests()) {
                    ObjectNode call = calls.addObject();
                    if (request.id() != null) {
                        call.put("id", request.id());
                    }
                    call.put("type", "function");
                    call.putObject("function").put("name", request.name()).put("arguments", request.arguments());
                }
            }
        } else if (message instanceof ToolExecutionResultMessage result) {
            node.put("role", "tool").put("content", result.text());
            if (result.id() != null) {
                node.put("tool_call_id", result.id());
            }
            if (result.toolName() != null) {
                node.put("name", result.toolName());
            }
        } else {
            throw new UnsupportedFeatureException("messages of type " + message.type() + " are not supported");
        }
        return node;
    }

    private static String userText(UserMessage user) {
        StringBuilder text = new StringBuilder();
        for (Content content : user.contents()) {
            if (!(content instanceof TextContent textContent)) {
                throw new UnsupportedFeatureException("Content of type " + content.type().name().toLowerCase()
                        + " is not supported: this provider runs text-only models");
            }
            text.append(textContent.text());
        }
        return text.toString();
    }
}
