package io.github.deltakv.langchain4j.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.json.JsonRawSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.request.json.JsonSchemaElement;

import java.util.ArrayList;
import java.util.List;

/**
 * Structured output: a LangChain4j {@link ResponseFormat} as the grammar (llama.cpp's GBNF, made by its
 * JSON-schema converter) that constrains sampling, so the answer always parses.
 */
public final class JsonGrammars {

    /** JSON mode without a schema: any JSON object. */
    static final String ANY_OBJECT = "{\"type\": \"object\"}";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonGrammars() {
    }

    /** The grammar for a response format, or null for free text. */
    public static String grammarFor(ResponseFormat format) {
        if (format == null || format.type() != ResponseFormatType.JSON) {
            return null;
        }
        String schema = schemaJson(format.jsonSchema());
        refuseEmptyEnums(schema);
        return LlamaNative.jsonSchemaToGrammar(schema);
    }

    /** An {@code enum} with no value allows no answer: its grammar would accept a JSON with the value missing. */
    static void refuseEmptyEnums(String schema) {
        JsonNode root;
        try {
            root = MAPPER.readTree(schema);
        } catch (JsonProcessingException e) {
            return; // not JSON: the native converter says so
        }
        List<JsonNode> todo = new ArrayList<>(List.of(root));
        while (!todo.isEmpty()) {
            JsonNode node = todo.remove(todo.size() - 1);
            JsonNode values = node.get("enum");
            if (values != null && values.isArray() && values.isEmpty()) {
                throw new IllegalArgumentException("the JSON schema has an enum with no value: no answer could follow it");
            }
            node.elements().forEachRemaining(todo::add);
        }
    }

    /** The JSON schema text of a response format's schema (any object when there is none). */
    public static String schemaJson(JsonSchema schema) {
        if (schema == null || schema.rootElement() == null) {
            return ANY_OBJECT;
        }
        JsonSchemaElement root = schema.rootElement();
        if (root instanceof JsonRawSchema raw) {
            return raw.schema();
        }
        try {
            return MAPPER.writeValueAsString(JsonSchemaElementUtils.toMap(root));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write the JSON schema: " + e.getMessage(), e);
        }
    }
}
