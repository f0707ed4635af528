package io.github.deltakv.langchain4j;

/**
 * The tools of one call, as the chat template takes them: an OpenAI-style JSON array of tools, the tool choice
 * ("auto", "required" or "none") and the JSON schema the answer's content must follow (null: free text).
 */
record ToolRequest(String toolsJson, String toolChoice, String jsonSchema) {
}
