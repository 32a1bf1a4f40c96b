// Helpers shared by the loader, the relation checks and the renderer (not installed API).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "config/config.hpp"

namespace seqwatch::config::detail {

// Whether a field type is a std::optional (a key that may be left unset).
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

size_t edit_distance(std::string_view a, std::string_view b);
// The candidate within typo distance of `word` ("" when none is close).
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& v, std::string_view sep);
// Keys a visit of `t` offers (a trigger's keys depend on its type).
std::vector<std::string> keys_of(const Trigger& t);
// Relations between keys, checked after all layers; appends one line per problem.
void check_relations(const Config& cfg, const Origins& origins, std::vector<std::string>& errors);
// Where `path` got its value, for messages about keys checked together.
std::string origin_of(const Origins& origins, const std::string& path);

}  // namespace seqwatch::config::detail
