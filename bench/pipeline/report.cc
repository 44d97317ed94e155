#include "bench/pipeline/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/pipeline/measure.h"
#include <nlohmann/json.hpp>

namespace pixq::bench::pipeline {
namespace {

using nlohmann::json;

// The targets of issue 7 for the JPEG q85 output: pixq's time over vipsthumbnail's.
constexpr double kJpegSourceTarget = 0.8;
constexpr double kPngSourceTarget = 1.0;
constexpr const char* kFormats[] = {"jpeg", "webp", "png"};

absl::StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<json> ReadJson(const std::string& path) {
  absl::StatusOr<std::string> text = Slurp(path);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  return j;
}

absl::StatusOr<std::vector<json>> ReadJsonLines(const std::string& path) {
  absl::StatusOr<std::string> text = Slurp(path);
  if (!text.ok()) return text.status();
  std::vector<json> rows;
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": not a JSON object"));
    }
    rows.push_back(std::move(j));
  }
  return rows;
}

absl::Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

// One vipsthumbnail process run over a file listed once and listed k + 1 times: the difference
// is k images in a warm process, startup and first-image costs cancelling out.
absl::StatusOr<json> VipsPerImage(const json& row) {
  absl::StatusOr<json> once = ReadJson(row.at("once").get<std::string>());
  if (!once.ok()) return once.status();
  absl::StatusOr<json> many = ReadJson(row.at("many").get<std::string>());
  if (!many.ok()) return many.status();
  const json& o = once->at("results").at(0);
  const json& m = many->at("results").at(0);
  const double k = row.at("in_process").get<double>();
  json out = row;
  out.erase("once");
  out.erase("many");
  out["runs"] = m.at("times").size();
  out["once_median_ms"] = o.at("median").get<double>() * 1e3;
  out["many_median_ms"] = m.at("median").get<double>() * 1e3;
  out["median_ms"] = (m.at("median").get<double>() - o.at("median").get<double>()) * 1e3 / k;
  out["min_ms"] = (m.at("min").get<double>() - o.at("min").get<double>()) * 1e3 / k;
  return out;
}

std::string Fixed(const json& v, int digits = 1) {
  if (!v.is_number()) return "n/a";
  return absl::StrFormat("%.*f", digits, v.get<double>());
}

std::string Size(const json& r) {
  if (!r.contains("out_width") || !r["out_width"].is_number()) return "n/a";
  return absl::StrCat(r["out_width"].get<int>(), "×", r["out_height"].get<int>());
}

// "kept of all bytes (share), PSNR dB" for a JPEG whose scans beyond its decode scale were
// dropped, else "none".
std::string ScansText(const json& s) {
  if (!s.is_object()) return "none";
  const double kept = s["kept_bytes"].get<double>();
  const double all = s["all_bytes"].get<double>();
  return absl::StrFormat("%.1f of %.1f MB (%.0f%%), %.1f dB", kept / 1e6, all / 1e6,
                         all > 0 ? 100 * kept / all : 0, s["thumbnail_psnr_db"].get<double>());
}

std::string Meta(const json& meta, const char* key) {
  if (!meta.contains(key)) return "?";
  const json& v = meta[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

absl::Status WriteReport(const ReportInputs& inputs, const std::string& json_path,
                         const std::string& md_path) {
  absl::StatusOr<std::vector<json>> files = ReadJsonLines(inputs.files);
  if (!files.ok()) return files.status();
  absl::StatusOr<std::vector<json>> pixq_rows = ReadJsonLines(inputs.pixq);
  if (!pixq_rows.ok()) return pixq_rows.status();
  absl::StatusOr<std::vector<json>> vips_rows = ReadJsonLines(inputs.vips);
  if (!vips_rows.ok()) return vips_rows.status();
  absl::StatusOr<std::vector<json>> tj_rows = ReadJsonLines(inputs.tjbench);
  if (!tj_rows.ok()) return tj_rows.status();
  absl::StatusOr<json> meta = ReadJson(inputs.meta);
  if (!meta.ok()) return meta.status();

  // Keyed by (image name, output format). `pixq` holds the in-process rows (those without an
  // engine predate the codec process), `codec` those measured through the worker's codec process.
  std::map<std::pair<std::string, std::string>, json> pixq, codec, vips;
  try {
    for (const json& r : *pixq_rows) {
      const std::string engine = r.value("engine", std::string(kInProcess));
      if (engine == kInProcess) {
        pixq[{r.at("name"), r.at("format")}] = r;
      } else if (engine == kCodecProcess) {
        codec[{r.at("name"), r.at("format")}] = r;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(inputs.pixq, ": unknown engine \"", engine, "\""));
      }
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(inputs.pixq, ": ", e.what()));
  }
  for (const json& r : *vips_rows) {
    try {
      absl::StatusOr<json> v = VipsPerImage(r);
      if (!v.ok()) return v.status();
      vips[{r.at("name"), r.at("format")}] = *std::move(v);
    } catch (const json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(inputs.vips, ": ", e.what()));
    }
  }
  std::map<std::string, json> tj;
  for (const json& r : *tj_rows) tj[r.at("name")] = r;

  json images = json::array();
  try {
    for (const json& f : *files) {
      const std::string name = f.at("name");
      const auto first = pixq.find({name, "jpeg"});
      if (first == pixq.end()) return absl::NotFoundError(absl::StrCat("no pixq row for ", name));
      const json& p0 = first->second;
      json image = {{"name", name},
                    {"package", f.value("package", "")},
                    {"note", f.value("note", "")},
                    {"input_format", p0.at("input_format")},
                    {"width", p0.at("width")},
                    {"height", p0.at("height")},
                    {"megapixels", p0.at("megapixels")},
                    {"coding", p0.at("coding")},
                    {"decode_scale", p0.at("decode_scale")},
                    {"scans_dropped", p0.value("scans_dropped", json())}};
      const bool jpeg_source = p0.at("input_format") == "jpeg";
      json floor_ms = nullptr;
      if (auto t = tj.find(name); t != tj.end() && t->second.at("fps").get<double>() > 0) {
        floor_ms = 1e3 / t->second.at("fps").get<double>();
        image["tjbench"] = {{"scale", t->second.at("scale")}, {"decode_ms", floor_ms}};
      }
      json outputs = json::object();
      for (const char* format : kFormats) {
        json o = json::object();
        if (auto p = pixq.find({name, format}); p != pixq.end()) o["pixq"] = p->second;
        if (auto v = vips.find({name, format}); v != vips.end()) {
          o["vips"] = v->second;
          image["vips_preshrink"] = v->second.value("preshrink", json());
        }
        if (o.contains("pixq") && o.contains("vips") && o["vips"]["median_ms"].get<double>() > 0) {
          o["ratio"] = o["pixq"]["median_ms"].get<double>() / o["vips"]["median_ms"].get<double>();
        } else {
          o["ratio"] = nullptr;  // vips' estimate is not positive: too few runs to tell
        }
        // The same through the worker's codec process: what a job actually pays.
        if (auto c = codec.find({name, format}); c != codec.end()) {
          o["codec"] = c->second;
          const double codec_ms = c->second.at("median_ms").get<double>();
          o["codec_ratio"] = o.contains("vips") && o["vips"]["median_ms"].get<double>() > 0
                                 ? json(codec_ms / o["vips"]["median_ms"].get<double>())
                                 : json(nullptr);
          if (o.contains("pixq")) {
            const double in_process_ms = o["pixq"]["median_ms"].get<double>();
            o["codec_overhead_ms"] = codec_ms - in_process_ms;
            o["codec_overhead_pct"] = in_process_ms > 0
                                          ? json(100 * (codec_ms - in_process_ms) / in_process_ms)
                                          : json(nullptr);
            o["codec_same_output"] = c->second.at("out_bytes") == o["pixq"]["out_bytes"] &&
                                     c->second.at("out_width") == o["pixq"]["out_width"] &&
                                     c->second.at("out_height") == o["pixq"]["out_height"];
          }
        }
        if (std::string(format) == "jpeg") {
          o["target"] = jpeg_source ? kJpegSourceTarget : kPngSourceTarget;
          o["met"] = o["ratio"].is_number()
                         ? json(o["ratio"].get<double>() <= o["target"].get<double>())
                         : json(nullptr);
          // Not the target's verdict (that stays on the in-process figure); shown beside it.
          if (o.contains("codec")) {
            o["codec_met"] = o["codec_ratio"].is_number()
                                 ? json(o["codec_ratio"].get<double>() <= o["target"].get<double>())
                                 : json(nullptr);
          }
          if (floor_ms.is_number() && o.contains("pixq")) {
            o["pixq_minus_floor_ms"] =
                o["pixq"]["median_ms"].get<double>() - floor_ms.get<double>();
          }
        }
        if (o.contains("pixq") && o.contains("vips")) {
          o["same_size"] = o["pixq"]["out_width"] == o["vips"]["out_width"] &&
                           o["pixq"]["out_height"] == o["vips"]["out_height"];
        }
        outputs[format] = std::move(o);
      }
      image["outputs"] = std::move(outputs);
      images.push_back(std::move(image));
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("inconsistent inputs: ", e.what()));
  }

  json report = {{"meta", *meta}, {"images", images}};
  if (absl::Status s = WriteAtomically(json_path, report.dump(2) + "\n"); !s.ok()) return s;

  // The markdown section.
  const json& m = *meta;
  std::string md;
  absl::StrAppend(&md, "## Per image (issue 7, target 1)\n\n");
  absl::StrAppend(&md, "<!-- Generated by bench/pipeline/run.sh; do not edit. -->\n\n");
  absl::StrAppend(&md, "Run ", Meta(m, "date"), " (", Meta(m, "mode"), ") on ", Meta(m, "cpu"),
                  ", ", Meta(m, "cpus"), " CPUs, load average ", Meta(m, "load_before"),
                  " before and ", Meta(m, "load_after"), " after. pixq ", Meta(m, "pixq_commit"),
                  ", OpenCV ", Meta(m, "opencv"), ", libjpeg-turbo ", Meta(m, "libjpeg_turbo"),
                  ", ", Meta(m, "vips"), ", hyperfine ", Meta(m, "hyperfine"), ".\n\n");
  absl::StrAppend(
      &md, "Each image is fitted within ", Meta(m, "box"), "×", Meta(m, "box"),
      " on one thread in one long-running process. **pixq**: `imaging::Pipeline::Run` on the "
      "file's bytes in memory with `SetOpenCvThreads(1)` and `KeepImageBuffers()` (glibc keeps "
      "freed image buffers for the next image, as in the worker's codec processes), ",
      Meta(m, "pixq_warmup"), " warm-up runs then ", Meta(m, "pixq_repeats"),
      " timed ones; median (min). **vipsthumbnail**: `VIPS_CONCURRENCY=1`, one process given the "
      "file once and ",
      Meta(m, "vips_in_process"), " + 1 times (distinct links to it), each timed by hyperfine (",
      Meta(m, "hyperfine_runs"), " runs after ", Meta(m, "hyperfine_warmup"),
      " warm-up); per image = (median(k + 1 files) − median(1 file)) / k, so process start-up and "
      "the first image's costs cancel (in brackets: the same from the fastest runs). Outputs "
      "written with `",
      Meta(m, "vips_jpeg"), "`, `", Meta(m, "vips_webp"), "`, `", Meta(m, "vips_png"),
      "`. **Decode floor**: `tjbench FILE -scale 1/N ", Meta(m, "tjbench_options"),
      "` (decompression only, to BGR, at the scale pixq chose, of every scan), 1000 / its frame "
      "rate. A progressive JPEG decoded at 1/4 or 1/8 loses its trailing scans that refine the "
      "AC coefficients' last bit (`imaging::DropScansBeyondScale`), so pixq can decode it below "
      "that floor; the last column gives the bytes it decodes and the PSNR of the thumbnail (the "
      "decode at that scale, reduced with INTER_AREA) against the one from every scan. **Via the "
      "codec process**: what the worker runs, `isolate::CodecPool` with one `pixq-worker codec` "
      "child (OpenCV on one thread there too), so the source's bytes go to the child and the "
      "result's come back over a Unix socket; the child is started before the timings, the "
      "warm-up and timed runs are the same. The target is judged on the in-process figure; the "
      "codec process's is stated beside it.\n\n");

  absl::StrAppend(&md, "### JPEG output, quality 85 (the target)\n\n");
  absl::StrAppend(
      &md,
      "| image | package | MP | coding | pixq scale | vips shrink | pixq ms | vips ms | "
      "pixq / vips | target | met | via codec process ms | codec / vips | decode floor ms | "
      "pixq − floor ms | pixq decode / resize / encode ms | size pixq / vips | "
      "scans dropped: bytes kept, thumbnail PSNR |\n");
  absl::StrAppend(&md,
                  "|---|---|--:|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|---|---|\n");
  int met = 0, judged = 0, codec_met = 0, codec_judged = 0;
  for (const json& im : images) {
    const json& o = im["outputs"]["jpeg"];
    const json p = o.value("pixq", json::object());
    const json v = o.value("vips", json::object());
    const std::string coding = im["coding"].get<std::string>().empty()
                                   ? std::string(im["input_format"] == "png" ? "PNG" : "?")
                                   : im["coding"].get<std::string>();
    std::string verdict = "n/a";
    if (o["met"].is_boolean()) {
      ++judged;
      if (o["met"].get<bool>()) ++met;
      verdict = o["met"].get<bool>() ? "yes" : "**no**";
    }
    if (o.contains("codec_met") && o["codec_met"].is_boolean()) {
      ++codec_judged;
      if (o["codec_met"].get<bool>()) ++codec_met;
    }
    const json c = o.value("codec", json::object());
    const json floor = im.contains("tjbench") ? im["tjbench"]["decode_ms"] : json();
    const bool jpeg_source = im["input_format"] == "jpeg";
    absl::StrAppend(
        &md, "| `", im["name"].get<std::string>(), "` | ", im["package"].get<std::string>(), " | ",
        Fixed(im["megapixels"]), " | ", coding, " | ",
        jpeg_source ? absl::StrCat("1/", im["decode_scale"].dump()) : "none", " | ",
        jpeg_source && im.contains("vips_preshrink") && im["vips_preshrink"].is_number()
            ? absl::StrCat("1/", im["vips_preshrink"].dump())
            : (jpeg_source ? "n/a" : "none"),
        " | ", Fixed(p.value("median_ms", json())), " (", Fixed(p.value("min_ms", json())), ") | ",
        Fixed(v.value("median_ms", json())), " (", Fixed(v.value("min_ms", json())), ") | ",
        Fixed(o["ratio"], 2), " | ≤ ", Fixed(o["target"], 1), " | ", verdict, " | ",
        Fixed(c.value("median_ms", json())), " (", Fixed(c.value("min_ms", json())), ") | ",
        Fixed(o.value("codec_ratio", json()), 2), " | ", Fixed(floor), " | ",
        Fixed(o.value("pixq_minus_floor_ms", json())), " | ",
        Fixed(p.value("decode_median_ms", json())), " / ",
        Fixed(p.value("resize_median_ms", json())), " / ",
        Fixed(p.value("encode_median_ms", json())), " | ", Size(p), " / ", Size(v), " | ",
        ScansText(im.value("scans_dropped", json())), " |\n");
  }
  int outputs = 0, same_size = 0, fit = 0;
  for (const json& im : images) {
    for (const auto& [format, o] : im["outputs"].items()) {
      if (!o.contains("pixq")) continue;
      ++outputs;
      if (o.value("same_size", false)) ++same_size;
      if (o["pixq"].value("fits_box", false)) ++fit;
    }
  }
  absl::StrAppend(&md, "\nTargets met: ", met, " of ", judged, " (in-process)");
  if (codec_judged > 0) {
    absl::StrAppend(&md, "; judged on the figures through the worker's codec process instead, ",
                    codec_met, " of ", codec_judged, " would be");
  }
  absl::StrAppend(&md,
                  ". pixq's outputs that fit the box "
                  "exactly: ",
                  fit, " of ", outputs, "; of the same size as vipsthumbnail's: ", same_size,
                  " of ", outputs, ".");
  for (const json& im : images) {
    if (!im["note"].get<std::string>().empty()) {
      absl::StrAppend(&md, " `", im["name"].get<std::string>(),
                      "`: ", im["note"].get<std::string>(), ".");
    }
  }
  absl::StrAppend(&md, "\n\n");

  // What crossing into the codec process costs, per output measured both ways.
  absl::StrAppend(&md, "### Via the worker's codec process\n\n");
  absl::StrAppend(
      &md,
      "What a worker's job pays: the same runs through `isolate::CodecPool` (one child) against "
      "in-process. Overhead = codec process − in-process, medians of two separate series (on a "
      "busy machine it can even come out negative). Source and output bytes are what crosses "
      "the socket, each way.\n\n");
  absl::StrAppend(&md,
                  "| image | output | source bytes | output bytes | in-process ms | codec process "
                  "ms | overhead ms | overhead % | codec / vips | same output |\n"
                  "|---|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
  int codec_outputs = 0;
  for (const json& im : images) {
    for (const char* format : kFormats) {
      const json& o = im["outputs"][format];
      if (!o.contains("codec")) continue;
      ++codec_outputs;
      const json p = o.value("pixq", json::object());
      const json& c = o["codec"];
      std::string same = "n/a";
      if (o.contains("codec_same_output")) {
        same = o["codec_same_output"].get<bool>() ? "yes" : "**no**";
      }
      absl::StrAppend(
          &md, "| `", im["name"].get<std::string>(), "` | ", format, " | ",
          c.value("in_bytes", json()).dump(), " | ", c.value("out_bytes", json()).dump(), " | ",
          Fixed(p.value("median_ms", json())), " (", Fixed(p.value("min_ms", json())), ") | ",
          Fixed(c.value("median_ms", json())), " (", Fixed(c.value("min_ms", json())), ") | ",
          Fixed(o.value("codec_overhead_ms", json())), " | ",
          Fixed(o.value("codec_overhead_pct", json())), " | ",
          Fixed(o.value("codec_ratio", json()), 2), " | ", same, " |\n");
    }
  }
  if (codec_outputs == 0) absl::StrAppend(&md, "\nNot measured in this run.\n");
  absl::StrAppend(&md, "\n");

  absl::StrAppend(&md, "### WebP quality 80 and PNG outputs (reported, no target)\n\n");
  absl::StrAppend(&md,
                  "| image | output | pixq ms | vips ms | pixq / vips | pixq bytes | vips bytes | "
                  "size pixq / vips |\n|---|---|--:|--:|--:|--:|--:|---|\n");
  for (const json& im : images) {
    for (const char* format : {"webp", "png"}) {
      const json& o = im["outputs"][format];
      const json p = o.value("pixq", json::object());
      const json v = o.value("vips", json::object());
      absl::StrAppend(&md, "| `", im["name"].get<std::string>(), "` | ", format, " | ",
                      Fixed(p.value("median_ms", json())), " (", Fixed(p.value("min_ms", json())),
                      ") | ", Fixed(v.value("median_ms", json())), " (",
                      Fixed(v.value("min_ms", json())), ") | ", Fixed(o["ratio"], 2), " | ",
                      p.value("out_bytes", json()).dump(), " | ",
                      v.value("out_bytes", json()).dump(), " | ", Size(p), " / ", Size(v), " |\n");
    }
  }

  // What limits each missed target, from the same figures.
  absl::StrAppend(&md, "\n### Where a target is missed\n\n");
  std::vector<std::string> notes;
  for (const json& im : images) {
    const json& o = im["outputs"]["jpeg"];
    if (!o["met"].is_boolean() || o["met"].get<bool>()) continue;
    const json& p = o["pixq"];
    const double vips_ms = o["vips"]["median_ms"].get<double>();
    const double budget = o["target"].get<double>() * vips_ms;
    std::string note = absl::StrFormat(
        "- `%s`: pixq %.1f ms against a budget of %.1f ms (%.1f × vipsthumbnail's %.1f ms). "
        "Decode %.1f ms, resize %.1f ms, encode %.1f ms.",
        im["name"].get<std::string>(), p["median_ms"].get<double>(), budget,
        o["target"].get<double>(), vips_ms, p["decode_median_ms"].get<double>(),
        p["resize_median_ms"].get<double>(), p["encode_median_ms"].get<double>());
    if (im.contains("tjbench")) {
      const double floor = im["tjbench"]["decode_ms"].get<double>();
      absl::StrAppend(&note,
                      absl::StrFormat(" libjpeg-turbo alone decodes it (every scan) at 1/%d in "
                                      "%.1f ms, so %.1f ms of pixq's decode is above the floor",
                                      im["decode_scale"].get<int>(), floor,
                                      p["decode_median_ms"].get<double>() - floor));
      if (floor > budget) {
        absl::StrAppend(&note,
                        "; the floor alone exceeds the budget, so no pipeline that decodes "
                        "every scan with libjpeg-turbo at this scale can meet it");
      }
      absl::StrAppend(&note, ".");
    } else {
      absl::StrAppend(&note, " No DCT scaling for a ", im["input_format"].get<std::string>(),
                      ": both decode every pixel.");
      if (im["input_format"] == "png") {
        absl::StrAppend(&note,
                        " pixq inflates with libdeflate (imaging::DecodeSimplePng), vips with "
                        "libpng and zlib.");
      }
    }
    if (im.contains("vips_preshrink") && im["vips_preshrink"].is_number()) {
      absl::StrAppend(&note, " vipsthumbnail shrinks it on load by 1/", im["vips_preshrink"].dump(),
                      ".");
    }
    if (o.contains("codec") && o["codec_ratio"].is_number()) {
      absl::StrAppend(&note, absl::StrFormat(" Through the worker's codec process: %.1f ms, %.2f × "
                                             "vipsthumbnail's.",
                                             o["codec"]["median_ms"].get<double>(),
                                             o["codec_ratio"].get<double>()));
    }
    notes.push_back(std::move(note));
  }
  if (notes.empty()) notes.push_back(judged > 0 ? "None in this run." : "Nothing judged.");
  absl::StrAppend(&md, absl::StrJoin(notes, "\n"), "\n");
  return WriteAtomically(md_path, md);
}

}  // namespace pixq::bench::pipeline
