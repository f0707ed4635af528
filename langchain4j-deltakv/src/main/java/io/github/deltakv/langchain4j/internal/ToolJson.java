package io.github.deltakv.langchain4j.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;

import java.util.List;

/** LangChain4j tool specifications as the OpenAI-style JSON array of tools that llama.cpp's chat templates read. */
public final class ToolJson {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private ToolJson() {
    }

    public static String toJson(List<ToolSpecification> tools) {
        ArrayNode array = MAPPER.createArrayNode();
        for (ToolSpecification tool : tools) {
            ObjectNode function = array.addObject().put("type", "function").putObject("function");
            function.put("name", tool.name());
            if (tool.description() != null) {
                function.put("description", tool.description());
            }
            function.set("parameters", parameters(tool.parameters()));
        }
        return array.toString();
    }

    private static ObjectNode parameters(JsonObjectSchema schema) {
        if (schema == null) {
            ObjectNode none = MAPPER.createObjectNode().put("type", "object");
            none.putObject("properties");
            return none;
        }
        return MAPPER.valueToTree(JsonSchemaElementUtils.toMap(schema));
    }
}
