package io.github.deltakv.langchain4j;

import dev.langchain4j.exception.LangChain4jException;

/**
 * A failure of the native engine: a model that cannot be loaded, a context that cannot be created,
 * a native library that cannot be found, a decode error. The message names the cause, including what
 * llama.cpp reported.
 */
public class DeltaKvException extends LangChain4jException {

    public DeltaKvException(String message) {
        super(message);
    }

    public DeltaKvException(String message, Throwable cause) {
        super(message, cause);
    }
}
