// Rendering the effective configuration back to YAML, the key list, and the value checks
// named in schema.hpp.
#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/config.hpp"
#include "config/internal.hpp"
#include "config/schema.hpp"
#include "tcp/verdict.hpp"

namespace seqwatch::config {

using namespace schema;

namespace schema {

std::string format_size(uint64_t bytes) {
  static constexpr std::pair<std::string_view, unsigned> kUnits[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  if (bytes != 0)
    for (const auto& [u, shift] : kUnits)
      if ((bytes & ((uint64_t{1} << shift) - 1)) == 0) return fmt::format("{}{}", bytes >> shift, u);
  return std::to_string(bytes);
}

std::string format_real(double v) {
  return fmt::format("{}", v);  // shortest text that reads back as v; no exponent below 1e16
}

std::string check_lcore_list(const std::string& s) {
  auto r = parse_lcore_list(s);
  return r.ok() ? std::string{} : r.error().message;
}

std::string check_lcore_list_or_empty(const std::string& s) { return s.empty() ? std::string{} : check_lcore_list(s); }

std::string check_ip_literal(const std::string& s) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1) return {};
  return fmt::format("'{}' is not an IP address (use 127.0.0.1 for this host only, 0.0.0.0 or :: for all)", s);
}

std::string check_not_empty(const std::string& s) { return s.empty() ? "must not be empty" : std::string{}; }

std::string check_port_name(const std::string& s) {
  const bool ok = !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
  if (ok) return {};
  return fmt::format("'{}' is not a valid name: 1 to 32 letters, digits, '_', '-' or '.' (it appears in file names and metric labels)", s);
}

std::string check_pci(const std::string& s) {
  if (s.empty()) return {};
  // DDDD:BB:DD.F or BB:DD.F, hexadecimal (what `dpdk-devbind.py --status` prints).
  auto hex = [](std::string_view v, size_t n) {
    return v.size() == n && std::all_of(v.begin(), v.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  };
  std::string_view v = s;
  if (v.size() == 12) {
    if (!hex(v.substr(0, 4), 4) || v[4] != ':') v = {};
    else v = v.substr(5);
  }
  const bool ok = v.size() == 7 && hex(v.substr(0, 2), 2) && v[2] == ':' && hex(v.substr(3, 2), 2) && v[5] == '.' &&
                  v[6] >= '0' && v[6] <= '7';
  if (ok) return {};
  return fmt::format("'{}' is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:3b:00.0; see dpdk-devbind.py --status)", s);
}

std::string check_devargs(const std::string& s) {
  if (s.empty()) return {};
  if (s.find_first_of(" \t") != std::string::npos) return fmt::format("'{}' contains spaces; devargs are NAME,key=value,...", s);
  const std::string_view name = std::string_view(s).substr(0, s.find(','));
  const bool word = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!word || !(name.starts_with("net_") || name.starts_with("eth_")))
    return fmt::format("'{}' does not start with a vdev name such as net_pcap0, net_af_packet0, net_ring0, net_tap0 or net_null0",
                       s);
  // The arguments of the usual software ports (DPDK 22.11's), so that a misspelt one is
  // named here rather than by a failed probe at start.
  struct Vdev {
    std::string_view prefix;
    std::vector<std::string_view> keys;
    std::vector<std::string_view> rx;       // one of these is needed to receive anything ({} = none)
    std::vector<std::string_view> numbers;  // keys whose value is a whole number
  };
  static const Vdev vdevs[] = {
      {"pcap", {"rx_pcap", "tx_pcap", "rx_iface", "rx_iface_in", "tx_iface", "iface", "phy_mac", "infinite_rx"},
       {"rx_pcap", "rx_iface", "rx_iface_in", "iface"}, {"phy_mac"}},  // infinite_rx: 0 or 1, below
      {"af_packet", {"iface", "qpairs", "blocksz", "framesz", "framecnt", "qdisc_bypass"}, {"iface"},
       {"qpairs", "blocksz", "framesz", "framecnt", "qdisc_bypass"}},
      {"null", {"size", "copy", "no-rx"}, {}, {"size", "copy", "no-rx"}},
      {"ring", {"nodeaction"}, {}, {}},
      {"tap", {"iface", "mac", "remote", "persist"}, {}, {}},
  };
  const std::string_view driver = name.substr(4, name.find_last_not_of("0123456789") - 3);
  for (const Vdev& v : vdevs) {
    if (driver != v.prefix) continue;
    std::vector<std::string> given;
    for (const DevArg& a : devargs_items(s)) {
      given.push_back(a.key);
      if (std::find(v.keys.begin(), v.keys.end(), a.key) == v.keys.end())
        return fmt::format("'{}': {} has no argument '{}' (its arguments: {})", s, name, a.key, fmt::join(v.keys, ", "));
      // DPDK reads these with strtoul and takes what fails as 0 or as an error far from here
      // (net_null0,size=abc: "RX queue 0 setup failed: Cannot allocate memory").
      if (std::find(v.numbers.begin(), v.numbers.end(), a.key) != v.numbers.end() &&
          (a.value.empty() || a.value.size() > 9 || a.value.find_first_not_of("0123456789") != std::string::npos))
        return fmt::format("'{}': {}={} is not a whole number", s, a.key, a.value);
    }
    if (!v.rx.empty() && std::none_of(given.begin(), given.end(), [&](const std::string& g) {
          return std::find(v.rx.begin(), v.rx.end(), g) != v.rx.end();
        }))
      return fmt::format("'{}': {} receives nothing without {}=", s, name, fmt::join(v.rx, "=, "));
  }
  // An af_packet frame must fit one mbuf (the port's pool is sized for framesz: run.cpp), and
  // an mbuf's data room is 16-bit.
  if (driver == "af_packet")
    for (const std::string& v : devargs_values(s, "framesz"))
      if (std::stoul(v) > kMaxAfPacketFrame)
        return fmt::format("'{}': framesz={} is over {}, the most one mbuf holds", s, v, kMaxAfPacketFrame);
  // net_pcap reads anything but "1" as a finite replay, silently.
  for (const std::string& v : devargs_values(s, "infinite_rx"))
    if (v != "0" && v != "1") return fmt::format("'{}': infinite_rx={} must be 0 or 1", s, v);
  return {};
}

std::string check_sink(const Sink& s) {
  if (s.enabled && s.path.empty()) return "an enabled output needs a file path (or false to turn it off)";
  return {};
}

std::string check_trim(const Trim& t) {
  if (t.headers || (t.bytes >= kMinTrim && t.bytes <= kMaxSnap)) return {};
  return fmt::format("trim {} is out of range: 'headers' or {} .. {} bytes", t.bytes, kMinTrim, kMaxSnap);
}

std::string check_opt_trim(const std::optional<Trim>& t) { return t ? check_trim(*t) : std::string{}; }
std::string check_trigger_trim(const std::optional<Trim>& t) {
  if (!t) return {};
  return "a trim per trigger is not supported: a flow's history is stored trimmed before any trigger fires, so "
         "every slice keeps evidence.trim; set that instead";
}

std::string check_verdict_names(const std::vector<std::string>& names) {
  if (names.empty()) return "a verdict trigger needs at least one verdict name (e.g. [spurious_retransmission, rst_after_fin])";
  std::vector<std::string> known;
  for (std::string_view n : tcp::kVerdictNames)
    if (!n.empty()) known.emplace_back(n);
  for (const std::string& n : names) {
    if (tcp::verdict_bit(n) >= 0) continue;
    const std::string close = detail::suggest(n, known);
    return fmt::format("unknown verdict '{}'{}; one of: {}", n, close.empty() ? "" : fmt::format(" (did you mean '{}'?)", close),
                       detail::join(known, ", "));
  }
  return {};
}

}  // namespace schema

Result<std::vector<uint32_t>> parse_lcore_list(std::string_view list) {
  constexpr uint32_t kMaxLcore = 1023;  // beyond any RTE_MAX_LCORE a distribution ships
  std::vector<uint32_t> out;
  auto bad = [&](std::string_view why) {
    return Error{fmt::format("'{}' is not an lcore list ({}); expected e.g. 0-3 or 0,2,4-7", list, why)};
  };
  if (list.empty()) return bad("empty");
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string_view item = list.substr(pos, comma - pos);
    const size_t dash = item.find('-');
    auto num = [&](std::string_view t, uint32_t& v) {
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      return ec == std::errc() && p == t.data() + t.size() && !t.empty();
    };
    uint32_t a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!num(item, a)) return bad(fmt::format("'{}' is not a number", item));
      b = a;
    } else if (!num(item.substr(0, dash), a) || !num(item.substr(dash + 1), b)) {
      return bad(fmt::format("'{}' is not a range", item));
    }
    if (b < a) return bad(fmt::format("range '{}' runs backwards", item));
    if (b > kMaxLcore) return bad(fmt::format("lcore {} is too high", b));
    for (uint32_t i = a; i <= b; ++i) out.push_back(i);
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string_view to_string(LogLevel v) { return enum_name(v); }
std::string_view to_string(Rss v) { return enum_name(v); }
std::string_view to_string(Rehash v) { return enum_name(v); }
std::string_view to_string(Timestamps v) { return enum_name(v); }
std::string_view to_string(Eviction v) { return enum_name(v); }
std::string_view to_string(EvidenceFormat v) { return enum_name(v); }
std::string_view to_string(TriggerType v) { return enum_name(v); }

namespace {

using detail::is_optional;

class Renderer {
 public:
  explicit Renderer(YAML::Emitter& e) : e_(e) {}

  template <class T, class... C>
  void field(std::string_view key, T& v, const C&...) {
    constexpr bool size = (std::is_same_v<C, Size> || ...);
    if constexpr (is_optional<T>::value) {
      if (!v) return;  // absent = inherit
      e_ << YAML::Key << std::string(key) << YAML::Value;
      emit(*v, size);
    } else {
      e_ << YAML::Key << std::string(key) << YAML::Value;
      emit(v, size);
    }
  }
  template <class S>
  void section(std::string_view key, S& s) {
    e_ << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
    visit(*this, s);
    e_ << YAML::EndMap;
  }
  template <class S>
  void list(std::string_view key, std::vector<S>& v) {
    e_ << YAML::Key << std::string(key) << YAML::Value;
    if (v.empty()) {
      e_ << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    e_ << YAML::BeginSeq;
    for (auto& item : v) {
      e_ << YAML::BeginMap;
      visit(*this, item);
      e_ << YAML::EndMap;
    }
    e_ << YAML::EndSeq;
  }

 private:
  template <class T>
  void emit(const T& v, bool size) {
    if constexpr (std::is_same_v<T, bool>) {
      e_ << (v ? "true" : "false");
    } else if constexpr (std::is_integral_v<T>) {
      if (size) e_ << format_size(v);
      else e_ << static_cast<uint64_t>(v);
    } else if constexpr (std::is_same_v<T, double>) {
      e_ << format_real(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      e_ << v;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      e_ << YAML::Flow << YAML::BeginSeq;
      for (const auto& s : v) e_ << s;
      e_ << YAML::EndSeq;
    } else if constexpr (std::is_same_v<T, Sink>) {
      if (v.enabled) e_ << v.path;
      else e_ << "false";
    } else if constexpr (std::is_same_v<T, Trim>) {
      if (v.headers) e_ << "headers";
      else e_ << static_cast<uint64_t>(v.bytes);
    } else {
      e_ << std::string(enum_name(v));
    }
  }

  YAML::Emitter& e_;
};

class Lister {
 public:
  explicit Lister(std::string prefix) : prefix_(std::move(prefix)) {}
  template <class T, class... C>
  void field(std::string_view key, T&, const C&...) {
    add(prefix_ + std::string(key));
  }
  template <class S>
  void section(std::string_view key, S& s) {
    Lister child(prefix_ + std::string(key) + ".");
    visit(child, s);
    for (auto& k : child.keys) add(k);
  }
  template <class S>
  void list(std::string_view key, std::vector<S>&) {
    std::vector<S> variants;
    if constexpr (std::is_same_v<S, Trigger>) {
      for (const auto& [n, t] : EnumNames<TriggerType>::kNames) variants.push_back(Trigger::of(t));
    } else {
      variants.push_back(S{});
    }
    for (auto& s : variants) {
      Lister child(prefix_ + std::string(key) + "[].");
      visit(child, s);
      for (auto& k : child.keys) add(k);
    }
  }
  std::vector<std::string> keys;

 private:
  void add(const std::string& k) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  std::string prefix_;
};

}  // namespace

std::string render_yaml(const Config& cfg) {
  Config copy = cfg;
  YAML::Emitter e;
  e << YAML::BeginMap;
  Renderer r(e);
  visit(r, copy);
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

std::vector<std::string> key_paths() {
  static const std::vector<std::string> keys = [] {
    Config c;
    Lister l("");
    visit(l, c);
    return l.keys;
  }();
  return keys;
}

}  // namespace seqwatch::config
