package io.github.deltakv.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;

import java.util.Objects;

/**
 * Request parameters with llama.cpp's extra sampling knobs: min-p, seed, repetition penalty and its
 * window. Unset values (null) fall back to the model's defaults.
 */
public class DeltaKvChatRequestParameters extends DefaultChatRequestParameters {

    private final Double minP;
    private final Long seed;
    private final Double repeatPenalty;
    private final Integer repeatLastN;

    protected DeltaKvChatRequestParameters(Builder builder) {
        super(builder);
        this.minP = builder.minP;
        this.seed = builder.seed;
        this.repeatPenalty = builder.repeatPenalty;
        this.repeatLastN = builder.repeatLastN;
    }

    public Double minP() {
        return minP;
    }

    public Long seed() {
        return seed;
    }

    public Double repeatPenalty() {
        return repeatPenalty;
    }

    public Integer repeatLastN() {
        return repeatLastN;
    }

    @Override
    public DeltaKvChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public DeltaKvChatRequestParameters defaultedBy(ChatRequestParameters that) {
        return builder().overrideWith(that).overrideWith(this).build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeltaKvChatRequestParameters that && super.equals(o)
                && Objects.equals(minP, that.minP) && Objects.equals(seed, that.seed)
                && Objects.equals(repeatPenalty, that.repeatPenalty) && Objects.equals(repeatLastN, that.repeatLastN);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), minP, seed, repeatPenalty, repeatLastN);
    }

    @Override
    public String toString() {
        return "DeltaKvChatRequestParameters{" + super.toString() + ", minP=" + minP + ", seed=" + seed
                + ", repeatPenalty=" + repeatPenalty + ", repeatLastN=" + repeatLastN + '}';
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends DefaultChatRequestParameters.Builder<Builder> {
        private Double minP;
        private Long seed;
        private Double repeatPenalty;
        private Integer repeatLastN;

        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            super.overrideWith(parameters);
            if (parameters instanceof DeltaKvChatRequestParameters p) {
                minP = p.minP != null ? p.minP : minP;
                seed = p.seed != null ? p.seed : seed;
                repeatPenalty = p.repeatPenalty != null ? p.repeatPenalty : repeatPenalty;
                repeatLastN = p.repeatLastN != null ? p.repeatLastN : repeatLastN;
            }
            return this;
        }

        /** Min-p sampling: drop tokens less likely than minP times the likeliest (0 = off). */
        public Builder minP(Double minP) {
            this.minP = minP;
            return this;
        }

        /** Sampling seed; the same seed, prompt and settings give the same answer. */
        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        /** Penalty for repeating recent tokens (1 = off). */
        public Builder repeatPenalty(Double repeatPenalty) {
            this.repeatPenalty = repeatPenalty;
            return this;
        }

        /** How many recent tokens the repetition penalties look at. */
        public Builder repeatLastN(Integer repeatLastN) {
            this.repeatLastN = repeatLastN;
            return this;
        }

        @Override
        public DeltaKvChatRequestParameters build() {
            return new DeltaKvChatRequestParameters(this);
        }
    }
}
