// Messages (and tools) to a prompt, through the model's own chat template (llama.cpp's common
// chat helpers, Jinja).
#pragma once

#include "chat.h"
#include "engine.h"

#include <string>

namespace dkv {

struct chat_templates {
    common_chat_templates_ptr tmpls;
};

// template_override: a Jinja template source to use instead of the model's own ("" = the model's)
chat_templates * new_chat_templates(const llama_model * model, const std::string & template_override);

// messages_json: an OpenAI-style JSON array of messages (a call with tools is a chat_call, below)
std::string apply_chat_template(const chat_templates * t, const std::string & messages_json,
                                bool add_generation_prompt);

// Whether the template renders tool definitions.
bool template_supports_tools(const chat_templates * t);

// The template source, for diagnostics.
std::string template_source(const chat_templates * t);

// Whether the template can express tool calls in the model's answer (so a parser and grammar exist for them).
bool template_supports_tool_calls(const chat_templates * t);

// One chat call with tools, rendered through the template's tool support: the prompt, the grammar that makes
// the answer's tool calls parse (lazy: it waits for the template's tool-call marker), and the parser that reads
// content and tool calls back out of the answer.
struct chat_call {
    common_chat_params        params;
    common_chat_parser_params parser;
    bool                      required = false; // tool_choice "required"
};

// tools_json: an OpenAI-style JSON array of tools; tool_choice: "auto", "required" or "none";
// json_schema: a JSON schema the answer's content must follow, or "".
chat_call * new_chat_call(const chat_templates * t, const std::string & messages_json, const std::string & tools_json,
                          const std::string & tool_choice, const std::string & json_schema);

// The answer read back: {"content": ..., "reasoning_content": ..., "tool_calls": [{"name", "arguments", "id"}]}.
// partial: the answer is still being generated (an unfinished tool call is returned as far as it goes).
std::string parse_chat_answer(const chat_call * c, const std::string & text, bool partial);

// The call's grammar, its triggers and the tokens to hand over as text, as the sampler takes them (as
// llama-server does: a trigger word that is one preserved token triggers on that token, any other on its text).
// With tool_choice "required" the answer is tool calls from its first token, as OpenAI's and vLLM's "required"
// (llama.cpp's grammar would allow free text before the first call, which a model that never writes the
// template's tool-call marker fills until the token limit).
void constrain_sampling(const chat_call * c, const llama_vocab * vocab, sampling_params & sp);

} // namespace dkv
