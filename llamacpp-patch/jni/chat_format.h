// Messages (and tools) to a prompt, through the model's own chat template (llama.cpp's common
// chat helpers, Jinja).
#pragma once

#include "chat.h"

#include <string>

namespace dkv {

struct chat_templates {
    common_chat_templates_ptr tmpls;
};

// template_override: a Jinja template source to use instead of the model's own ("" = the model's)
chat_templates * new_chat_templates(const llama_model * model, const std::string & template_override);

// messages_json: an OpenAI-style JSON array of messages; tools_json: a JSON array of tools or "".
std::string apply_chat_template(const chat_templates * t, const std::string & messages_json,
                                const std::string & tools_json, bool add_generation_prompt);

// Whether the template renders tool definitions.
bool template_supports_tools(const chat_templates * t);

// The template source, for diagnostics.
std::string template_source(const chat_templates * t);

} // namespace dkv
