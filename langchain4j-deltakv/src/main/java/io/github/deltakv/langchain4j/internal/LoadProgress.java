package io.github.deltakv.langchain4j.internal;

/** Model loading progress, from 0 to 1; return false to abort loading. */
@FunctionalInterface
public interface LoadProgress {

    boolean onProgress(float fraction);
}
