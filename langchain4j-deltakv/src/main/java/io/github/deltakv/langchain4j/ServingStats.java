package io.github.deltakv.langchain4j;

/**
 * What an engine serves: calls running (each a sequence of the context) and waiting now; and so far: calls started
 * (calls given up while they waited never start), decode steps and the most answers one step decoded together, answer
 * tokens generated and the time spent in decode steps, prompt tokens evaluated and the time spent on them, and the
 * first tokens of calls with the time from each call's arrival to its first token, summed.
 */
public record ServingStats(int running, int waiting, long callsStarted, long decodeSteps, int largestStep,
                           long tokensGenerated, double decodeSeconds, long promptTokensEvaluated,
                           double promptSeconds, long firstTokens, double timeToFirstTokenSeconds) {
}
