package io.github.deltakv.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponseMetadata;

import java.util.Objects;

/**
 * Response metadata with what the KV cache did: prompt tokens taken from the cache of earlier calls,
 * prompt tokens evaluated, and the KV memory after the call.
 */
public class DeltaKvChatResponseMetadata extends ChatResponseMetadata {

    private final Integer promptTokensReused;
    private final Integer promptTokensEvaluated;
    private final KvMemoryStats kvMemory;

    protected DeltaKvChatResponseMetadata(Builder builder) {
        super(builder);
        this.promptTokensReused = builder.promptTokensReused;
        this.promptTokensEvaluated = builder.promptTokensEvaluated;
        this.kvMemory = builder.kvMemory;
    }

    /** Prompt tokens whose KV came from the cache (a prefix shared with an earlier call). */
    public Integer promptTokensReused() {
        return promptTokensReused;
    }

    /** Prompt tokens run through the model in this call. */
    public Integer promptTokensEvaluated() {
        return promptTokensEvaluated;
    }

    /** KV-cache memory after the call. */
    public KvMemoryStats kvMemory() {
        return kvMemory;
    }

    @Override
    public Builder toBuilder() {
        Builder b = (Builder) toBuilder(builder());
        return b.promptTokensReused(promptTokensReused).promptTokensEvaluated(promptTokensEvaluated).kvMemory(kvMemory);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeltaKvChatResponseMetadata that && super.equals(o)
                && Objects.equals(promptTokensReused, that.promptTokensReused)
                && Objects.equals(promptTokensEvaluated, that.promptTokensEvaluated)
                && Objects.equals(kvMemory, that.kvMemory);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), promptTokensReused, promptTokensEvaluated, kvMemory);
    }

    @Override
    public String toString() {
        return "DeltaKvChatResponseMetadata{" + super.toString() + ", promptTokensReused=" + promptTokensReused
                + ", promptTokensEvaluated=" + promptTokensEvaluated + ", kvMemory=" + kvMemory + '}';
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends ChatResponseMetadata.Builder<Builder> {
        private Integer promptTokensReused;
        private Integer promptTokensEvaluated;
        private KvMemoryStats kvMemory;

        public Builder promptTokensReused(Integer promptTokensReused) {
            this.promptTokensReused = promptTokensReused;
            return this;
        }

        public Builder promptTokensEvaluated(Integer promptTokensEvaluated) {
            this.promptTokensEvaluated = promptTokensEvaluated;
            return this;
        }

        public Builder kvMemory(KvMemoryStats kvMemory) {
            this.kvMemory = kvMemory;
            return this;
        }

        @Override
        public DeltaKvChatResponseMetadata build() {
            return new DeltaKvChatResponseMetadata(this);
        }
    }
}
