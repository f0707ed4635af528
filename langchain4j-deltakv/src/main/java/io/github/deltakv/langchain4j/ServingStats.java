package io.github.deltakv.langchain4j;

/**
 * What an engine serves: calls running (each a sequence of the context) and waiting now; so far, calls started
 * (calls given up while they waited never start), decode steps, the most answers one step decoded together, and
 * answer tokens generated.
 */
public record ServingStats(int running, int waiting, long callsStarted, long decodeSteps, int largestStep,
                           long tokensGenerated) {
}
