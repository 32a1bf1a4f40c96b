#include "telemetry/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "telemetry/snapshot.hpp"

namespace seqwatch::telemetry {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// events.jsonl can be gigabytes: it is scanned (not parsed) and only this many lines.
constexpr size_t kMaxEventLines = 20'000'000;
constexpr size_t kMaxEvidenceRows = 500;
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::vector<json> read_jsonl(const fs::path& p, size_t max_lines = 1'000'000) {
  std::vector<json> v;
  std::ifstream f(p);
  std::string line;
  while (v.size() < max_lines && std::getline(f, line)) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) v.push_back(std::move(j));
  }
  return v;
}

struct Series {
  std::string name;
  std::vector<double> y;
};

// A line chart: x shared by all series; y from 0 to the max (or `ymax`).
std::string line_chart(const std::string& id, const std::string& title, const std::vector<double>& x,
                       const std::vector<Series>& series, const std::string& yunit, double ymax = 0) {
  const double W = 760, H = 240, L = 60, R = 150, T = 24, B = 30;
  double xmin = x.empty() ? 0 : x.front(), xmax = x.empty() ? 1 : x.back();
  if (xmax <= xmin) xmax = xmin + 1;
  if (ymax <= 0) {
    for (const auto& s : series)
      for (double y : s.y) ymax = std::max(ymax, y);
    if (ymax <= 0) ymax = 1;
    ymax *= 1.05;
  }
  auto px = [&](double v) { return L + (v - xmin) / (xmax - xmin) * (W - L - R); };
  auto py = [&](double v) { return T + (1 - v / ymax) * (H - T - B); };
  std::string o = fmt::format(R"(<figure class="chart" id="{}"><svg viewBox="0 0 {} {}" width="{}" height="{}" )"
                              R"(xmlns="http://www.w3.org/2000/svg" role="img"><title>{}</title>)",
                              id, W, H, W, H, esc(title));
  o += fmt::format(R"(<text x="{}" y="16" class="t">{}</text>)", L, esc(title));
  for (int i = 0; i <= 4; ++i) {
    const double v = ymax * i / 4;
    o += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" class="grid"/>)", L, W - R, py(v), py(v));
    o += fmt::format(R"(<text x="{}" y="{:.1f}" class="ax" text-anchor="end">{}{}</text>)", L - 4, py(v) + 4,
                     yunit == "%" ? fmt::format("{:.0f}", v * 100) : si(v), yunit);
  }
  for (int i = 0; i <= 4; ++i) {
    const double v = xmin + (xmax - xmin) * i / 4;
    o += fmt::format(R"(<text x="{:.1f}" y="{}" class="ax" text-anchor="middle">{:.0f}s</text>)", px(v), H - 10, v);
  }
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    std::string pts;
    for (size_t i = 0; i < s.y.size() && i < x.size(); ++i) pts += fmt::format("{:.1f},{:.1f} ", px(x[i]), py(s.y[i]));
    const char* col = kPalette[k % 10];
    o += fmt::format(R"(<polyline class="series" fill="none" stroke="{}" stroke-width="2" points="{}"/>)", col, pts);
    o += fmt::format(R"(<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" class="ax">{}</text>)",
                     W - R + 10, T + 16 * k, col, W - R + 24, T + 16 * k + 9, esc(s.name));
  }
  o += "</svg></figure>\n";
  return o;
}

// Horizontal bars, one per (label, value).
std::string bar_chart(const std::string& id, const std::string& title,
                      const std::vector<std::pair<std::string, double>>& items, const std::string& unit = "") {
  const double W = 760, row = 20, L = 220, T = 24;
  const double H = T + row * static_cast<double>(std::max<size_t>(items.size(), 1)) + 8;
  double mx = 0;
  for (const auto& [l, v] : items) mx = std::max(mx, v);
  if (mx <= 0) mx = 1;
  std::string o = fmt::format(R"(<figure class="chart" id="{}"><svg viewBox="0 0 {} {}" width="{}" height="{}" )"
                              R"(xmlns="http://www.w3.org/2000/svg" role="img"><title>{}</title>)",
                              id, W, H, W, H, esc(title));
  o += fmt::format(R"(<text x="4" y="16" class="t">{}</text>)", esc(title));
  if (items.empty()) o += fmt::format(R"(<text x="{}" y="{}" class="ax">none</text>)", L, T + 14);
  for (size_t i = 0; i < items.size(); ++i) {
    const double y = T + row * static_cast<double>(i);
    const double w = items[i].second / mx * (W - L - 90);
    o += fmt::format(R"(<text x="{}" y="{}" class="ax" text-anchor="end">{}</text>)", L - 6, y + 13,
                     esc(items[i].first));
    o += fmt::format(R"(<rect class="bar" x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/>)", L, y + 2,
                     std::max(w, 1.0), row - 5, kPalette[i % 10]);
    o += fmt::format(R"(<text x="{:.1f}" y="{}" class="ax">{}{}</text>)", L + w + 6, y + 13,
                     unit == "%" ? fmt::format("{:.1f}", items[i].second * 100) : si(items[i].second), unit);
  }
  o += "</svg></figure>\n";
  return o;
}

std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::string o = "<table class=\"sortable\"><thead><tr>";
  for (const auto& h : head) o += "<th>" + esc(h) + "</th>";
  o += "</tr></thead><tbody>";
  for (const auto& r : rows) {
    o += "<tr>";
    for (const auto& c : r) o += "<td>" + c + "</td>";  // cells are pre-escaped (some hold links)
    o += "</tr>";
  }
  if (rows.empty()) o += fmt::format("<tr><td colspan=\"{}\">none</td></tr>", head.size());
  return o + "</tbody></table>\n";
}

double num(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}
std::string str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : (it != j.end() && !it->is_null() ? it->dump() : "");
}

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:980px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.kpi b{display:block;font-size:18px}.chart{margin:8px 0}.t{font-weight:600;font-size:13px}.ax{font-size:11px;fill:#444}
.grid{stroke:#e5e5e5}table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border-bottom:1px solid #eee;
padding:3px 6px;text-align:left}th{cursor:pointer;background:#f6f6f6}.warn{color:#b35900}.muted{color:#777}
)";

// Sorting by a click on a header; no external code.
const char* kScript = R"(
document.querySelectorAll('table.sortable th').forEach(function(th, col) {
  th.addEventListener('click', function() {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    rows.sort(function(a, b) {
      var x = a.cells[col] ? a.cells[col].textContent : '', y = b.cells[col] ? b.cells[col].textContent : '';
      var nx = parseFloat(x), ny = parseFloat(y);
      return dir * (isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny);
    });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
document.body.dataset.charts = document.querySelectorAll('figure.chart svg').length;
)";

}  // namespace

std::string render_html_report(const std::string& run_dir) {
  const fs::path dir(run_dir);
  json summary = json::object();
  if (std::ifstream f(dir / "summary.json"); f) {
    auto j = json::parse(f, nullptr, false);
    if (!j.is_discarded()) summary = j;
  }
  std::vector<json> stats, imb;
  for (auto& j : read_jsonl(dir / "stats.jsonl")) {
    if (j.value("type", "") == "imbalance") imb.push_back(std::move(j));
    else if (j.value("type", "") == "stats") stats.push_back(std::move(j));
  }
  const json retrans = summary.value("retransmissions", json::object());

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>seqwatch report: " +
                  esc(dir.filename().string().empty() ? run_dir : dir.filename().string()) +
                  "</title><style>" + kStyle + "</style></head><body>\n";
  h += "<h1>seqwatch report</h1><p class=\"muted\">run folder " + esc(fs::absolute(dir).string()) + "</p>\n";

  // Key figures.
  const double segs = num(retrans, "segments"), retx = num(retrans, "retx_segments");
  h += "<div class=\"kpis\">";
  auto kpi = [&](const std::string& label, const std::string& v) {
    h += "<div class=\"kpi\">" + esc(label) + "<b>" + esc(v) + "</b></div>";
  };
  kpi("packets", si(num(summary, "packets")));
  kpi("TCP segments", si(segs));
  kpi("retransmissions", fmt::format("{} ({:.2f}%)", si(retx), segs > 0 ? 100 * retx / segs : 0));
  kpi("flows", si(num(retrans, "flows")));
  kpi("duration", stats.empty() ? (summary.contains("last_ts_ns") ? fmt::format("{:.1f}s", (num(summary, "last_ts_ns") - num(summary, "first_ts_ns")) / 1e9) : "?")
                                : fmt::format("{:.1f}s", num(stats.back(), "elapsed_s")));
  uint64_t drops = 0;
  for (const auto& p : summary.value("ports", json::array())) drops += static_cast<uint64_t>(num(p, "imissed") + num(p, "rx_nombuf"));
  kpi("port drops", si(static_cast<double>(drops)));
  h += "</div>\n";

  // Queues and cores over time (stats lines).
  h += "<h2>RX queues and worker cores</h2>\n";
  if (stats.size() >= 2) {
    std::vector<double> x;
    std::map<std::string, Series> q, busy, wpps;
    std::map<std::string, double> qlast;
    for (size_t i = 1; i < stats.size(); ++i) {
      const json &a = stats[i - 1], &b = stats[i];
      const double dt = num(b, "elapsed_s") - num(a, "elapsed_s");
      if (dt <= 0) continue;
      x.push_back(num(b, "elapsed_s"));
      auto per = [&](const char* arr, auto key, const char* field, std::map<std::string, Series>& out, bool rate) {
        std::map<std::string, double> before;
        for (const auto& e : a.value(arr, json::array())) before[key(e)] = num(e, field);
        for (const auto& e : b.value(arr, json::array())) {
          auto& s = out[key(e)];
          s.name = key(e);
          s.y.resize(x.size() - 1, 0);
          s.y.push_back(rate ? std::max(0.0, num(e, field) - before[key(e)]) / dt : num(e, field));
        }
      };
      per("queues", [](const json& e) { return "queue " + str(e, "port") + "/" + str(e, "queue"); }, "packets", q, true);
      per("workers", [](const json& e) { return "worker " + str(e, "worker"); }, "packets", wpps, true);
      per("workers", [](const json& e) { return "worker " + str(e, "worker"); }, "busy_ratio", busy, false);
    }
    auto vals = [](std::map<std::string, Series>& m) {
      std::vector<Series> v;
      for (auto& [k, s] : m) v.push_back(s);
      return v;
    };
    h += line_chart("chart-queues", "packets per second, per RX queue", x, vals(q), "");
    h += line_chart("chart-workers", "packets per second, per worker", x, vals(wpps), "");
    if (stats.back().value("workers", json::array()).size() > 0 && stats.back()["workers"][0].contains("busy_ratio"))
      h += line_chart("chart-busy", "busy share of each worker core", x, vals(busy), "%", 1.0);
  } else {
    h += "<p class=\"muted\">stats.jsonl has fewer than two stats lines: no time series.</p>\n";
  }
  {
    std::vector<std::pair<std::string, double>> qs, ws;
    if (!stats.empty()) {
      for (const auto& e : stats.back().value("queues", json::array()))
        qs.push_back({"queue " + str(e, "port") + "/" + str(e, "queue"), num(e, "packets")});
      for (const auto& e : stats.back().value("workers", json::array()))
        ws.push_back({"worker " + str(e, "worker"), num(e, "packets")});
    } else if (summary.contains("rehash")) {
      const auto pw = summary["rehash"].value("per_worker", json::array());
      for (size_t i = 0; i < pw.size(); ++i)
        if (pw[i].is_number()) ws.push_back({fmt::format("worker {}", i), pw[i].get<double>()});
    }
    h += bar_chart("chart-queue-totals", "packets per RX queue (whole run)", qs);
    h += bar_chart("chart-worker-totals", "packets per worker (whole run)", ws);
  }

  // Retransmission rate over time: from the stats lines when they carry TCP totals, else
  // retransmissions per second from the segment events.
  h += "<h2>Retransmissions over time</h2>\n";
  bool drawn = false;
  if (stats.size() >= 2 && stats.back().contains("retransmissions")) {
    std::vector<double> x, rate, per_s;
    for (size_t i = 1; i < stats.size(); ++i) {
      const double ds = num(stats[i], "tcp_segments") - num(stats[i - 1], "tcp_segments");
      const double dr = num(stats[i], "retransmissions") - num(stats[i - 1], "retransmissions");
      const double dt = num(stats[i], "elapsed_s") - num(stats[i - 1], "elapsed_s");
      if (dt <= 0) continue;
      x.push_back(num(stats[i], "elapsed_s"));
      rate.push_back(ds > 0 ? dr / ds : 0);
      per_s.push_back(dr / dt);
    }
    h += line_chart("chart-retx-rate", "retransmission rate (retransmitted / all TCP segments)", x, {{"rate", rate}}, "%");
    h += line_chart("chart-retx-per-s", "retransmissions per second", x, {{"retransmissions/s", per_s}}, "");
    drawn = true;
  }
  if (!drawn) {
    std::ifstream f(dir / "events.jsonl");
    std::map<long, double> per_sec;
    std::string line;
    size_t n = 0;
    double t0 = -1;
    while (n < kMaxEventLines && std::getline(f, line)) {
      ++n;
      if (line.find("\"retransmission\"") == std::string::npos) continue;
      const size_t p = line.find("\"ts\":");
      if (p == std::string::npos) continue;
      const double ts = std::atof(line.c_str() + p + 5);
      if (t0 < 0) t0 = ts;
      per_sec[static_cast<long>(ts - t0)] += 1;
    }
    if (!per_sec.empty()) {
      std::vector<double> x, y;
      for (long s = 0; s <= per_sec.rbegin()->first; ++s) {
        x.push_back(static_cast<double>(s));
        y.push_back(per_sec.count(s) ? per_sec[s] : 0);
      }
      h += line_chart("chart-retx-per-s", "retransmitted segments per second (segment events)", x,
                      {{"retransmissions/s", y}}, "");
      if (n >= kMaxEventLines) h += "<p class=\"muted\">events.jsonl read up to its first 20M lines.</p>";
    } else {
      h += "<p class=\"muted\">no retransmission events recorded.</p>\n";
    }
  }

  // Anomaly breakdown.
  h += "<h2>Anomaly breakdown</h2>\n";
  if (const json shape = retrans.value("shape", json::object()); shape.contains("message"))
    h += fmt::format("<p class=\"shape\"><b>Shape of the retransmissions</b> ({}): {}</p>\n",
                     esc(shape.value("suspect", "")), esc(shape["message"].get<std::string>()));
  {
    std::vector<std::pair<std::string, double>> v;
    const json verdicts = retrans.value("verdicts", json::object());
    for (const auto& [k, n] : verdicts.items())
      if (n.is_number()) v.push_back({k, n.get<double>()});
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    h += bar_chart("chart-verdicts", "segments per analysis verdict", v);
    std::vector<std::pair<std::string, double>> kinds = {{"fast retransmissions", num(retrans, "fast_retx")},
                                                        {"timeout-like (RTO)", num(retrans, "rto_retx")},
                                                        {"tail-loss probes", num(retrans, "tail_loss_probes")},
                                                        {"ACK-clocked recovery", num(retrans, "ack_clocked_recovery")},
                                                        {"spurious", num(retrans, "spurious_retx")},
                                                        {"SYN retransmissions", num(retrans, "syn_retransmissions")},
                                                        {"duplicate ACKs", num(retrans, "dup_acks")}};
    h += bar_chart("chart-retx-kinds", "retransmissions by kind", kinds);
  }

  // Top flows and servers.
  h += "<h2>Top flows and servers</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    json flows = retrans.value("top_flows", json::array());
    if (flows.empty()) {  // no summary: the flow records themselves
      std::vector<json> recs = read_jsonl(dir / "flows.jsonl");
      // A flow's records with the active timeout (end "active") are cumulative: its newest
      // one holds all of it (the final one, or the last active one of a run cut short).
      std::map<std::pair<int64_t, int64_t>, size_t> newest;  // (worker, flow) -> index in recs
      for (size_t i = 0; i < recs.size(); ++i)
        newest[{recs[i].value("worker", int64_t{0}), recs[i].value("flow", int64_t{0})}] = i;
      std::vector<std::pair<double, json>> top;
      for (const auto& [id, i] : newest) {
        const json& r = recs[i];
        const double rx = num(r.value("c2s", json::object()), "retx_segments") + num(r.value("s2c", json::object()), "retx_segments");
        const double sg = num(r.value("c2s", json::object()), "segments") + num(r.value("s2c", json::object()), "segments");
        if (rx > 0)
          top.push_back({rx, json{{"client", r.value("client", "")}, {"cport", r.value("cport", 0)}, {"server", r.value("server", "")},
                                  {"sport", r.value("sport", 0)}, {"segments", sg}, {"retx_segments", rx}, {"retx_rate", sg > 0 ? rx / sg : 0}}});
      }
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t i = 0; i < top.size() && i < 20; ++i) flows.push_back(top[i].second);
    }
    for (const auto& f : flows)
      rows.push_back({esc(fmt::format("{}:{}{}", str(f, "client"), str(f, "cport"), f.value("open", false) ? " (open)" : "")),
                      esc(fmt::format("{}:{}", str(f, "server"), str(f, "sport"))), si(num(f, "segments")),
                      si(num(f, "retx_segments")), fmt::format("{:.2f}%", 100 * num(f, "retx_rate")),
                      si(num(f, "fast_retx")), si(num(f, "rto_retx")), si(num(f, "tail_loss_probes")),
                      si(num(f, "dup_acks"))});
    h += "<h3>flows with the most retransmissions</h3>" +
         table({"client", "server", "segments", "retx", "rate", "fast", "rto", "tail probes", "dup ACKs"}, rows);
    std::vector<std::pair<std::string, double>> sv;
    rows.clear();
    for (const auto& s : retrans.value("top_services", json::array())) {
      sv.push_back({str(s, "service"), num(s, "retx_rate")});
      rows.push_back({esc(str(s, "service")), si(num(s, "flows")), si(num(s, "segments")), si(num(s, "retx_segments")),
                      fmt::format("{:.2f}%", 100 * num(s, "retx_rate"))});
    }
    h += bar_chart("chart-services", "retransmission rate per server:port", sv, "%");
    h += table({"server:port", "flows", "segments", "retx", "rate"}, rows);
  }

  // Imbalance and drop events.
  h += "<h2>Imbalance and drops</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : imb)
      rows.push_back({fmt::format("{:.1f}s", num(e, "elapsed_s")), esc(str(e, "kind")), esc(str(e, "state")),
                      esc(str(e, "cause")), esc(str(e, "message"))});
    h += table({"at", "kind", "state", "cause", "diagnosis"}, rows);
    rows.clear();
    for (const auto& p : summary.value("ports", json::array()))
      rows.push_back({esc(str(p, "port")), si(num(p, "ipackets")), si(num(p, "imissed")), si(num(p, "ierrors")),
                      si(num(p, "rx_nombuf"))});
    h += table({"port", "ipackets", "imissed", "ierrors", "rx_nombuf"}, rows);
  }

  // Evidence.
  h += "<h2>Evidence files</h2>\n";
  {
    std::vector<std::vector<std::string>> rows;
    std::error_code ec;
    std::vector<fs::path> indexes;
    if (fs::exists(dir / "evidence" / "evidence-index.jsonl", ec)) indexes.push_back(dir / "evidence" / "evidence-index.jsonl");
    else
      for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->path().filename() == "evidence-index.jsonl") indexes.push_back(it->path());
    size_t total = 0;
    for (const auto& idx : indexes)
      for (const auto& e : read_jsonl(idx)) {
        ++total;
        if (rows.size() >= kMaxEvidenceRows) continue;
        fs::path file = fs::path(str(e, "file"));
        if (file.is_relative()) file = idx.parent_path() / file;
        const std::string rel = fs::relative(file, dir, ec).generic_string();
        const json fl = e.value("flow", json::object());
        std::string trig;
        for (const auto& t : e.value("trigger", json::array())) trig += (trig.empty() ? "" : ", ") + t.get<std::string>();
        rows.push_back({"<a href=\"" + esc(rel) + "\">" + esc(rel) + "</a>", esc(trig),
                        esc(fmt::format("{}:{} - {}:{}", str(fl, "a"), str(fl, "a_port"), str(fl, "b"), str(fl, "b_port"))),
                        si(num(e, "packets")), esc(str(e, "first_time"))});
      }
    if (indexes.empty()) h += "<p class=\"muted\">no evidence index in this run folder.</p>\n";
    else h += table({"file", "trigger", "flow", "packets", "first packet"}, rows);
    if (total > rows.size()) h += fmt::format("<p class=\"muted\">{} more slices in the index.</p>", total - rows.size());
  }

  h += "<p class=\"muted\">generated by seqwatch report; self-contained (no network).</p>\n";
  h += std::string("<script>") + kScript + "</script></body></html>\n";
  return h;
}

int html_report_main(const std::string& run_dir, const std::string& out) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) {
    std::fprintf(stderr, "seqwatch report: '%s' is not a folder: give the run folder of `seqwatch run` (it holds summary.json, stats.jsonl, ...)\n",
                 run_dir.c_str());
    return 1;
  }
  bool any = false;
  for (const char* f : {"summary.json", "stats.jsonl", "flows.jsonl", "events.jsonl"}) any |= fs::exists(fs::path(run_dir) / f, ec);
  if (!any) {
    std::fprintf(stderr, "seqwatch report: '%s' holds none of summary.json, stats.jsonl, flows.jsonl, events.jsonl: is it a run folder?\n",
                 run_dir.c_str());
    return 1;
  }
  const std::string path = out.empty() ? (fs::path(run_dir) / "report.html").string() : out;
  std::ofstream f(path);
  f << render_html_report(run_dir);
  f.close();
  if (!f) {
    std::fprintf(stderr, "seqwatch report: cannot write '%s'\n", path.c_str());
    return 1;
  }
  std::printf("seqwatch report: %s\n", path.c_str());
  return 0;
}

}  // namespace seqwatch::telemetry
