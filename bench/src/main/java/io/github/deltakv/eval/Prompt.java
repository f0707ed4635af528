package io.github.deltakv.eval;

import dev.langchain4j.data.message.ChatMessage;

import java.util.List;

/**
 * One scored question: the task family, the length cell it belongs to (tokens), the chat messages and the
 * expected reply (exact match after stripping whitespace).
 */
public record Prompt(String task, int length, List<ChatMessage> messages, String answer) {
}
