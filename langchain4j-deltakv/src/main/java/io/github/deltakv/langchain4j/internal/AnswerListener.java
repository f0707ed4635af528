package io.github.deltakv.langchain4j.internal;

/** Receives an answer as it is generated: content text, and the arguments of tool calls piece by piece. */
public interface AnswerListener {

    /** A listener that wants nothing until the answer is complete. */
    AnswerListener IGNORE = text -> { };

    /** New content text (never a piece of a stop string or of tool-call markup). */
    void onText(String text);

    /** More arguments of tool call {@code index} (its id and name do not change between calls). */
    default void onPartialToolCall(int index, String id, String name, String partialArguments) {
    }
}
