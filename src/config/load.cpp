// Loading: YAML layers and --set overrides applied onto a Config through the schema.
//
// Every layer is applied in turn onto the result of the previous ones: a key present in a
// layer replaces the value; a key absent keeps it. Every problem becomes one line
// "WHERE: key.path: reason" (WHERE = FILE:LINE:COL, or the --set argument); all problems
// of all layers are reported together, so one run of `seqwatch config check` shows them all.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "config/config.hpp"
#include "config/internal.hpp"
#include "config/schema.hpp"
#include "util/printable.hpp"

namespace seqwatch::config {

using namespace schema;

Trigger Trigger::of(TriggerType t) {
  Trigger g;
  g.type = t;
  switch (t) {
    case TriggerType::kRetransmissionStorm: g.count = 10; g.window_ms = 1000; break;
    case TriggerType::kDupAckRun: g.min = 8; break;
    case TriggerType::kZeroWindow: g.min_ms = 500; break;
    default: break;
  }
  return g;
}

namespace detail {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  // Close enough to be a typo: at most a third of the word differs (2 edits for short words).
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

}  // namespace detail

namespace {

using detail::join;
using detail::suggest;

using util::printable;

constexpr size_t kMaxErrors = 50;  // enough to see the shape of a broken file

struct Source {
  std::string name;
  bool marks;  // false for --set: positions inside the argument mean nothing
};

struct Ctx {
  Source src;
  std::vector<std::string>& errors;
  Origins& origins;

  std::string where(const YAML::Mark& m) const {
    if (!src.marks || m.is_null()) return src.name;
    return fmt::format("{}:{}:{}", src.name, m.line + 1, m.column + 1);
  }
  void error(const YAML::Mark& m, std::string_view path, std::string_view reason) {
    if (errors.size() < kMaxErrors) errors.push_back(fmt::format("{}: {}: {}", where(m), path, reason));
  }
  void set_origin(const std::string& path, const YAML::Mark& m) { origins[path] = where(m); }
  void erase_origins_under(const std::string& prefix) {
    for (auto it = origins.lower_bound(prefix); it != origins.end() && it->first.starts_with(prefix);)
      it = origins.erase(it);
  }
};

std::string describe(const YAML::Node& n) {
  if (n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return fmt::format("'{}'", n.Scalar());
}

std::string child_path(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

// ---- scalars ---------------------------------------------------------------------------

std::string parse_uint(const YAML::Node& n, uint64_t& out, bool size) {
  if (!n.IsScalar()) return fmt::format("expected {}, got {}", size ? "a byte count" : "an unsigned integer", describe(n));
  const std::string& s = n.Scalar();
  const char* b = s.data();
  const char* e = s.data() + s.size();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec == std::errc::result_out_of_range) return fmt::format("'{}' is too large", s);
  if (ec != std::errc() || p == b) {
    if (!s.empty() && s[0] == '-') return fmt::format("'{}' is negative; expected an unsigned integer", s);
    return fmt::format("expected {}, got '{}'", size ? "a byte count (e.g. 4096, 64MiB, 1GiB)" : "an unsigned integer", s);
  }
  std::string_view rest(p, static_cast<size_t>(e - p));
  if (!rest.empty() && size) {
    static constexpr std::pair<std::string_view, unsigned> kUnits[] = {
        {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"K", 10}, {"M", 20}, {"G", 30}, {"T", 40}};
    bool found = false;
    for (const auto& [u, shift] : kUnits) {
      if (rest == u) {
        if (v > (UINT64_MAX >> shift)) return fmt::format("'{}' is too large", s);
        v <<= shift;
        found = true;
        break;
      }
    }
    if (!found) return fmt::format("'{}': unknown unit '{}' (use KiB, MiB, GiB or TiB)", s, rest);
  } else if (!rest.empty()) {
    if (rest[0] == '.' || rest[0] == 'e' || rest[0] == 'E') return fmt::format("expected a whole number, got '{}'", s);
    return fmt::format("expected an unsigned integer, got '{}'", s);
  }
  out = v;
  return {};
}

std::string parse_real(const YAML::Node& n, double& out) {
  if (!n.IsScalar()) return fmt::format("expected a number, got {}", describe(n));
  const std::string& s = n.Scalar();
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return fmt::format("expected a number, got '{}'", s);
  out = v;
  return {};
}

std::optional<bool> as_bool(const std::string& s) {
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  for (auto t : kTrue)
    if (s == t) return true;
  for (auto f : kFalse)
    if (s == f) return false;
  return std::nullopt;
}

template <class E>
std::vector<std::string> enum_names() {
  std::vector<std::string> v;
  for (const auto& [n, e] : EnumNames<E>::kNames) v.emplace_back(n);
  return v;
}

template <class E>
std::string parse_enum(const YAML::Node& n, E& out) {
  const auto names = enum_names<E>();
  if (!n.IsScalar()) return fmt::format("expected one of: {}; got {}", join(names, ", "), describe(n));
  for (const auto& [name, e] : EnumNames<E>::kNames) {
    if (n.Scalar() == name) {
      out = e;
      return {};
    }
  }
  std::string msg = fmt::format("'{}' is not one of: {}", n.Scalar(), join(names, ", "));
  if (auto s = suggest(n.Scalar(), names); !s.empty()) msg += fmt::format(" (did you mean '{}'?)", s);
  return msg;
}

template <class T>
std::string parse_value(const YAML::Node& n, T& out, bool size) {
  if constexpr (std::is_same_v<T, bool>) {
    if (n.IsScalar())
      if (auto b = as_bool(n.Scalar())) {
        out = *b;
        return {};
      }
    return fmt::format("expected true or false, got {}", describe(n));
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    uint64_t v = 0;
    if (auto e = parse_uint(n, v, size); !e.empty()) return e;
    if (v > UINT32_MAX) return fmt::format("{} is too large (at most {})", v, UINT32_MAX);
    out = static_cast<uint32_t>(v);
    return {};
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return parse_uint(n, out, size);
  } else if constexpr (std::is_same_v<T, double>) {
    return parse_real(n, out);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (n.IsNull()) {
      out.clear();
      return {};
    }
    if (!n.IsScalar()) return fmt::format("expected a string, got {}", describe(n));
    out = n.Scalar();
    return {};
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (n.IsNull()) {
      out.clear();
      return {};
    }
    if (!n.IsSequence()) return fmt::format("expected a list of strings, got {}", describe(n));
    std::vector<std::string> v;
    for (const auto& item : n) {
      if (!item.IsScalar()) return fmt::format("expected a list of strings, but an item is {}", describe(item));
      v.push_back(item.Scalar());
    }
    out = std::move(v);
    return {};
  } else if constexpr (std::is_same_v<T, Sink>) {
    if (n.IsScalar()) {
      if (auto b = as_bool(n.Scalar())) {
        out.enabled = *b;
        return {};
      }
      out.enabled = true;
      out.path = n.Scalar();
      return {};
    }
    return fmt::format("expected false, true or a file path, got {}", describe(n));
  } else if constexpr (std::is_same_v<T, Trim>) {
    if (n.IsScalar() && n.Scalar() == "headers") {
      out = Trim{true, 0};
      return {};
    }
    uint64_t v = 0;
    if (!n.IsScalar() || !parse_uint(n, v, false).empty())
      return fmt::format("expected 'headers' or a byte count, got {}", describe(n));
    if (v > UINT32_MAX) return fmt::format("{} is too large", v);
    out = Trim{false, static_cast<uint32_t>(v)};
    return {};
  } else if constexpr (kIsConfigEnum<T>) {
    return parse_enum(n, out);
  } else {
    static_assert(sizeof(T) == 0, "no parser for this field type");
  }
}

// ---- checks ----------------------------------------------------------------------------

using detail::is_optional;

// One check on a parsed value; "" when it passes. Checks on an optional apply to its
// value when present, except a Custom written for the optional itself.
template <class T, class C>
std::string check_one(const T& v, const C& c) {
  if constexpr (is_optional<T>::value) {
    if constexpr (std::is_same_v<C, Custom<T>>) return c.check(v);
    else return v ? check_one(*v, c) : std::string{};
  } else if constexpr (std::is_same_v<C, IntRange>) {
    if constexpr (std::is_integral_v<T>) {
      if (v < c.lo || v > c.hi) {
        if (c.hi >= UINT32_MAX && c.lo > 0) return fmt::format("{} is out of range: must be at least {}", v, c.lo);
        return fmt::format("{} is out of range: allowed {} .. {}", v, c.lo, c.hi);
      }
    }
    return {};
  } else if constexpr (std::is_same_v<C, Pow2>) {
    if constexpr (std::is_integral_v<T>) {
      if (v == 0) return "0 is not a power of two";
      if ((v & (v - 1)) != 0) {
        uint64_t lo = 1;
        while (lo * 2 < v) lo *= 2;
        return fmt::format("{} is not a power of two (nearest: {} or {})", v, lo, lo * 2);
      }
    }
    return {};
  } else if constexpr (std::is_same_v<C, RealRange>) {
    if constexpr (std::is_floating_point_v<T>) {
      const bool low = c.lo_open ? !(v > c.lo) : !(v >= c.lo);
      if (low || !(v <= c.hi))
        return fmt::format("{} is out of range: must be {} {} and <= {}", format_real(v), c.lo_open ? ">" : ">=",
                           format_real(c.lo), format_real(c.hi));
    }
    return {};
  } else if constexpr (std::is_same_v<C, Resolution>) {
    if constexpr (std::is_floating_point_v<T>) {
      if (v != 0 && v < c.smallest)
        return fmt::format("{} would round to 0 ({}): the smallest allowed value is {}", format_real(v), c.why,
                           format_real(c.smallest));
    }
    return {};
  } else if constexpr (std::is_same_v<C, Custom<T>>) {
    return c.check(v);
  } else {
    return {};  // Size only changes parsing
  }
}

template <class... C>
constexpr bool has_size(const C&...) {
  return (std::is_same_v<C, Size> || ...);
}

// ---- the loader visitor ----------------------------------------------------------------

class Loader {
 public:
  using Hint = std::string (*)(std::string_view key, const void* element);

  Loader(Ctx& ctx, const YAML::Node& map, std::string prefix) : ctx_(ctx), prefix_(std::move(prefix)) {
    // yaml-cpp keeps duplicate keys and answers lookups with the first; reject them.
    for (const auto& kv : map) {
      const YAML::Node k = kv.first;
      if (!k.IsScalar()) {
        ctx_.error(k.Mark(), prefix_.empty() ? "(top level)" : prefix_, "a key must be a plain name");
        continue;
      }
      bool twice = false;
      for (const auto& e : entries_) {
        if (e.key == k.Scalar()) {
          ctx_.error(k.Mark(), child_path(prefix_, k.Scalar()),
                     fmt::format("key given twice (first at {}); remove one", ctx_.where(e.key_mark)));
          twice = true;
          break;
        }
      }
      if (!twice) entries_.push_back({k.Scalar(), k.Mark(), kv.second});
    }
  }

  void set_hint(Hint h, const void* element) { hint_ = h, hint_element_ = element; }

  template <class T, class... C>
  void field(std::string_view key, T& ref, const C&... checks) {
    const Entry* e = take(key);
    if (!e) return;
    const std::string path = child_path(prefix_, key);
    const YAML::Mark mark = value_mark(*e);
    T tmp = ref;
    std::string why;
    if constexpr (is_optional<T>::value) {
      if (e->value.IsNull()) {
        tmp.reset();
      } else {
        typename T::value_type inner = tmp.value_or(typename T::value_type{});
        why = parse_value(e->value, inner, has_size(checks...));
        tmp = inner;
      }
    } else {
      why = parse_value(e->value, tmp, has_size(checks...));
    }
    if (why.empty()) ((why.empty() ? (void)(why = check_one(tmp, checks)) : (void)0), ...);
    if (!why.empty()) {
      ctx_.error(mark, path, why);
      return;
    }
    ref = std::move(tmp);
    ctx_.set_origin(path, mark);
  }

  template <class S>
  void section(std::string_view key, S& s) {
    const Entry* e = take(key);
    if (!e) return;
    const std::string path = child_path(prefix_, key);
    if (e->value.IsNull()) return;  // "eal:" with nothing below changes nothing
    if (!e->value.IsMap()) {
      ctx_.error(value_mark(*e), path, fmt::format("expected a map of keys, got {}", describe(e->value)));
      return;
    }
    Loader child(ctx_, e->value, path);
    visit(child, s);
    child.finish();
  }

  template <class S>
  void list(std::string_view key, std::vector<S>& v) {
    const Entry* e = take(key);
    if (!e) return;
    const std::string path = child_path(prefix_, key);
    const YAML::Node& n = e->value;
    if (n.IsNull()) {
      v.clear();
      ctx_.erase_origins_under(path + "[");
      ctx_.set_origin(path, value_mark(*e));
      return;
    }
    if (n.IsSequence()) {
      std::vector<S> out;
      ctx_.erase_origins_under(path + "[");
      size_t i = 0;
      for (const auto& item : n) {
        const std::string ipath = fmt::format("{}[{}]", path, i++);
        S elem{};
        if (element(item, elem, ipath, true)) out.push_back(std::move(elem));
      }
      v = std::move(out);
      ctx_.set_origin(path, value_mark(*e));
      return;
    }
    if (n.IsMap() && any_index_key(n)) {
      std::vector<std::pair<uint64_t, YAML::Mark>> seen;  // 0 and 00 are the same element
      for (const auto& kv : n) {
        const YAML::Node k = kv.first;
        if (!k.IsScalar() || !is_index(k.Scalar())) {
          const std::string key = k.IsScalar() ? k.Scalar() : describe(k);
          ctx_.error(k.Mark(), child_path(path, key),
                     fmt::format("'{}' is not a list index ({})", key, index_range(path, v.size())));
          continue;
        }
        // Beyond uint64_t is beyond any list: reported as no such element, with the digits given.
        uint64_t idx = UINT64_MAX;
        (void)std::from_chars(k.Scalar().data(), k.Scalar().data() + k.Scalar().size(), idx);
        const std::string ipath = idx == UINT64_MAX ? fmt::format("{}[{}]", path, k.Scalar()) : fmt::format("{}[{}]", path, idx);
        const auto first = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == idx; });
        if (first != seen.end()) {
          ctx_.error(k.Mark(), ipath,
                     fmt::format("index {} given twice (first at {}); remove one", k.Scalar(), ctx_.where(first->second)));
          continue;
        }
        seen.emplace_back(idx, k.Mark());
        if (idx >= v.size()) {
          ctx_.error(k.Mark(), ipath,
                     fmt::format("no such element: {} has {} entr{} (indices from 0); give a whole list to replace it",
                                 path, v.size(), v.size() == 1 ? "y" : "ies"));
          continue;
        }
        element(kv.second, v[idx], ipath, false);
      }
      return;
    }
    ctx_.error(value_mark(*e), path, fmt::format("expected a list of maps, got {}", describe(n)));
  }

  // Reports the keys of this map that no field asked for.
  void finish() {
    std::vector<std::string> known;
    for (const auto& k : offered_) known.emplace_back(k);
    for (const auto& e : entries_) {
      if (e.taken) continue;
      const std::string path = child_path(prefix_, e.key);
      std::string why = "unknown key";
      if (auto s = suggest(e.key, known); !s.empty()) {
        why += fmt::format("; did you mean '{}'?", s);
      } else if (std::string h = hint_ ? hint_(e.key, hint_element_) : std::string(); !h.empty()) {
        why += "; " + h;
      } else if (std::string elsewhere = find_elsewhere(e.key); !elsewhere.empty()) {
        why += fmt::format("; '{}' is a key of {}", e.key, elsewhere);
      } else {
        why += fmt::format(" (keys here: {})", join(known, ", "));
      }
      ctx_.error(e.key_mark, path, why);
    }
  }

 private:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
    bool taken = false;
  };
  const Entry* take(std::string_view key) {
    offered_.push_back(key);
    for (auto& e : entries_) {
      if (e.key == key) {
        e.taken = true;
        return &e;
      }
    }
    return nullptr;
  }
  static YAML::Mark value_mark(const Entry& e) {
    const YAML::Mark m = e.value.Mark();
    return m.is_null() ? e.key_mark : m;
  }
  static bool is_index(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  // A map patches a list by index when one of its keys is meant as one: digits, with a sign
  // too ("-1", "+1", as --set ports.-1.rss=off writes them), which are then refused by name
  // rather than as "expected a list of maps, got a map".
  static bool any_index_key(const YAML::Node& n) {
    for (const auto& kv : n) {
      const YAML::Node k = kv.first;
      if (!k.IsScalar()) continue;
      std::string_view s = k.Scalar();
      if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
      if (is_index(s)) return true;
    }
    return false;
  }
  // The indices `path`, a list of `size` entries, has.
  static std::string index_range(std::string_view path, size_t size) {
    if (size == 0) return fmt::format("{} has no entries; give a whole list to set it", path);
    if (size == 1) return fmt::format("{} has 1 entry: index 0", path);
    return fmt::format("{} has {} entries: indices 0 .. {}", path, size, size - 1);
  }
  static std::string find_elsewhere(std::string_view key) {
    std::vector<std::string> hits;
    for (const auto& p : key_paths()) {
      const auto dot = p.rfind('.');
      if (std::string_view(p).substr(dot == std::string::npos ? 0 : dot + 1) == key) hits.push_back(p);
    }
    return join(hits, ", ");
  }

  // Prepares list element `elem` from map `item` (new element or patch) and loads it.
  template <class S>
  bool element(const YAML::Node& item, S& elem, const std::string& ipath, bool is_new) {
    if (!item.IsMap()) {
      ctx_.error(item.Mark(), ipath, fmt::format("expected a map of keys, got {}", describe(item)));
      return false;
    }
    if constexpr (std::is_same_v<S, Trigger>) {
      const YAML::Node t = item["type"];
      if (!t) {
        if (is_new) {
          ctx_.error(item.Mark(), ipath + ".type",
                     fmt::format("missing; a trigger needs a type (one of: {})", join(enum_names<TriggerType>(), ", ")));
          return false;
        }
      } else {
        TriggerType type{};
        if (auto why = parse_enum(t, type); !why.empty()) {
          ctx_.error(t.Mark(), ipath + ".type", why);
          return false;
        }
        if (is_new || type != elem.type) {
          elem = Trigger::of(type);
          ctx_.erase_origins_under(ipath + ".");
        }
      }
    }
    ctx_.set_origin(ipath, item.Mark());
    Loader child(ctx_, item, ipath);
    if constexpr (std::is_same_v<S, Trigger>) child.set_hint(&trigger_hint, &elem);
    visit(child, elem);
    child.finish();
    return true;
  }

  // For a key that is a parameter of another trigger type.
  static std::string trigger_hint(std::string_view key, const void* element) {
    const auto* t = static_cast<const Trigger*>(element);
    std::vector<std::string> owners;
    for (const auto& [name, type] : EnumNames<TriggerType>::kNames) {
      Trigger probe = Trigger::of(type);
      for (const auto& k : detail::keys_of(probe))
        if (k == key) owners.emplace_back(name);
    }
    if (owners.empty()) return {};
    std::vector<std::string> takes;
    for (const auto& k : detail::keys_of(*t))
      if (k != "trim") takes.emplace_back(k);  // refused on every trigger (check_trigger_trim)
    return fmt::format("it is not a parameter of trigger type '{}' (it belongs to: {}; '{}' takes: {})", enum_name(t->type),
                       join(owners, ", "), enum_name(t->type), join(takes, ", "));
  }

  Ctx& ctx_;
  std::string prefix_;
  std::vector<Entry> entries_;
  std::vector<std::string_view> offered_;
  Hint hint_ = nullptr;
  const void* hint_element_ = nullptr;
};

void apply_document(const YAML::Node& root, Ctx& ctx, Config& cfg) {
  if (!root || root.IsNull()) return;  // an empty overlay changes nothing
  if (!root.IsMap()) {
    ctx.error(root.Mark(), "(top level)", "expected a map of sections (eal, ports, workers, ...)");
    return;
  }
  Loader l(ctx, root, "");
  visit(l, cfg);
  l.finish();
}

// A configuration is one YAML document: a second one (after '---', or after a '...' end
// marker) would be read by nobody, so it is refused rather than ignored. Empty documents
// (a file ending in a bare '---', as generators and concatenations leave them) hold nothing
// to ignore and are passed over. Returns the document, or sets `second` to where the
// second one with content starts.
YAML::Node single_document(const std::string& text, std::optional<YAML::Mark>& second) {
  std::vector<YAML::Node> docs = YAML::LoadAll(text);
  YAML::Node first;
  bool have_first = false;
  for (const YAML::Node& d : docs) {
    if (!d || d.IsNull()) continue;
    if (have_first) {
      second = d.Mark();
      break;
    }
    first = d;
    have_first = true;
  }
  return first;
}

constexpr std::string_view kSecondDocument =
    "a second YAML document starts here; a configuration is one document (remove the '---' or '...' and what "
    "follows it, or merge the documents)";

void apply_text(std::string_view text, Ctx& ctx, Config& cfg) {
  YAML::Node root;
  try {
    std::optional<YAML::Mark> second;
    root = single_document(std::string(text), second);
    if (second) {
      ctx.errors.push_back(fmt::format("{}: {}", ctx.where(*second), kSecondDocument));
      return;
    }
  } catch (const YAML::ParserException& e) {
    ctx.errors.push_back(fmt::format("{}: YAML syntax error: {}", ctx.where(e.mark), e.msg));
    return;
  } catch (const YAML::Exception& e) {
    ctx.errors.push_back(fmt::format("{}: YAML error: {}", ctx.src.name, e.what()));
    return;
  }
  apply_document(root, ctx, cfg);
}

// Splits a --set key path into its names and list indices: "ports.0.rss" and "ports[0].rss"
// both give {ports, 0, rss}. Returns why `path` is not a key path ("" when it is): empty names
// ("workers..count") and unbalanced or misplaced brackets ("ports[0]rss", "ports[0.rss") were
// dropped or glued on silently. What an index is worth is the loader's to say.
std::string split_key_path(const std::string& path, std::vector<std::string>& segs) {
  const auto at = [&](size_t i) { return fmt::format("'{}' at character {}", path[i], i + 1); };
  size_t i = 0;
  for (;;) {
    // A name (or a list index written after a dot) up to the next '.', '[' or ']'.
    const size_t end = std::min(path.find_first_of(".[]", i), path.size());
    if (end == i) {
      if (i == path.size()) return "it ends with '.'; a name must follow it";
      if (i == 0) return fmt::format("it starts with {}; it must start with a section name", at(0));
      if (path[i] == '.') return fmt::format("{} leaves an empty name between two dots", at(i));
      if (path[i] == '[') return fmt::format("{} follows a '.'; write NAME[INDEX] or NAME.INDEX", at(i));
      return fmt::format("{} has no '[' before it", at(i));
    }
    segs.push_back(path.substr(i, end - i));
    i = end;
    // Any number of [INDEX] after the name.
    while (i < path.size() && path[i] == '[') {
      const size_t close = path.find_first_of("[]", i + 1);
      if (close == std::string::npos || path[close] == '[') return fmt::format("{} is not closed by ']'", at(i));
      if (close == i + 1) return fmt::format("'[]' at character {} holds no list index", i + 1);
      segs.push_back(path.substr(i + 1, close - i - 1));
      i = close + 1;
    }
    if (i == path.size()) return {};
    if (path[i] == ']') return fmt::format("{} has no '[' before it", at(i));
    if (path[i] != '.') return fmt::format("{} follows ']'; a '.', a '[' or the '=' must come next", at(i));
    ++i;  // the '.'
  }
}

// "ports.0.rss=off", "ports[0].rss=off" -> {ports: {0: {rss: off}}}
void apply_override(const std::string& arg, Config& cfg, std::vector<std::string>& errors, Origins& origins) {
  Ctx ctx{Source{"--set " + arg, false}, errors, origins};
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    errors.push_back(fmt::format("{}: expected KEY.PATH=VALUE (e.g. workers.count=4)", ctx.src.name));
    return;
  }
  std::vector<std::string> segs;
  const std::string path = arg.substr(0, eq);
  if (std::string why = split_key_path(path, segs); !why.empty()) {
    errors.push_back(fmt::format("{}: '{}' is not a key path: {} (e.g. workers.count=4, ports[0].rss=off)",
                                 ctx.src.name, path, why));
    return;
  }
  YAML::Node node;
  const std::string value = arg.substr(eq + 1);
  try {
    // A bare "-" (standard output for an output file) is a string here; in YAML it opens a list.
    if (value == "-") {
      node = YAML::Node(value);
    } else {
      std::optional<YAML::Mark> second;
      node = single_document(value, second);
      if (second) {
        errors.push_back(fmt::format("{}: {}: the value holds {}", ctx.src.name, path,
                                     "a second YAML document ('---' or '...' inside it); give one value"));
        return;
      }
    }
  } catch (const YAML::Exception& e) {
    errors.push_back(fmt::format("{}: {}: the value is not valid YAML: {}", ctx.src.name, path, e.what()));
    return;
  }
  for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
    YAML::Node m(YAML::NodeType::Map);
    m[*it] = node;
    node.reset(m);  // rebind; plain assignment would write through the old reference
  }
  apply_document(node, ctx, cfg);
}

// One line per problem, each printable (values are quoted as the user wrote them, and may
// hold any byte).
Error report(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += printable(e);
  }
  return Error{std::move(out)};
}

}  // namespace

namespace detail {

namespace {
struct KeyCollector {
  std::vector<std::string> keys;
  template <class T, class... C> void field(std::string_view k, T&, const C&...) { keys.emplace_back(k); }
  template <class S> void section(std::string_view k, S&) { keys.emplace_back(k); }
  template <class S> void list(std::string_view k, std::vector<S>&) { keys.emplace_back(k); }
};
}  // namespace

std::vector<std::string> keys_of(const Trigger& trigger) {
  Trigger t = trigger;
  KeyCollector c;
  visit(c, t);
  return c.keys;
}

}  // namespace detail

Result<Config> load_config_text(std::string_view yaml, std::string_view source, const Config& base, Origins* origins) {
  Config cfg = base;
  Origins local;
  Origins& org = origins ? *origins : local;
  std::vector<std::string> errors;
  Ctx ctx{Source{std::string(source), true}, errors, org};
  apply_text(yaml, ctx, cfg);
  if (errors.empty()) detail::check_relations(cfg, org, errors);
  if (!errors.empty()) return report(errors);
  return cfg;
}

Result<Config> load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                           Origins* origins) {
  Config cfg;
  Origins local;
  Origins& org = origins ? *origins : local;
  std::vector<std::string> errors;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      errors.push_back(fmt::format("{}: cannot read the file: {}", f, std::strerror(errno)));
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    Ctx ctx{Source{f, true}, errors, org};
    apply_text(ss.str(), ctx, cfg);
  }
  for (const auto& o : overrides) apply_override(o, cfg, errors, org);
  if (errors.empty()) detail::check_relations(cfg, org, errors);
  if (!errors.empty()) return report(errors);
  return cfg;
}

}  // namespace seqwatch::config
