package io.github.deltakv.langchain4j.internal;

/** Receives what the native decode loop produces, on the thread that called generate. */
public interface GenerationListener {

    /** A sampled token and its text bytes (possibly part of a UTF-8 character); false stops generation. */
    boolean onToken(int token, byte[] piece);

    /** Prompt evaluation progress, for long prompts. */
    void onPrefill(int done, int total);
}
