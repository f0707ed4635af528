package io.github.deltakv.langchain4j;

import java.util.List;

/** The sampling of one call, after request parameters were merged with the model's defaults; grammar may be null. */
record SamplingSettings(double temperature, int topK, double topP, double minP, double repeatPenalty,
                        int repeatLastN, double frequencyPenalty, double presencePenalty, int maxTokens,
                        long seed, List<String> stopSequences, String grammar) {

    /** {temperature, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty}, as the JNI takes them. */
    float[] floats() {
        return new float[] {(float) temperature, (float) topP, (float) minP, (float) repeatPenalty,
                (float) frequencyPenalty, (float) presencePenalty};
    }

    /** {topK, repeatLastN, maxTokens}, as the JNI takes them. */
    int[] ints() {
        return new int[] {topK, repeatLastN, maxTokens};
    }
}
