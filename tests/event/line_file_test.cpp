// event::LineFile: every file holds whole lines in order, rotation by size and age keeps
// every line, a full disk loses lines only when the hold buffer overflows and counts each,
// a failed re-open (SIGHUP) is retried rather than given up.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "event/line_file.hpp"
#include "support/command.hpp"

namespace seqwatch::event {
namespace {

namespace fs = std::filesystem;

// A fresh folder inside the process's scratch folder (removed at exit).
std::string scratch(const std::string& name) {
  const std::string d = test::scratch_dir() + "line-file-" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Line i: a JSON object with its number, padded to about `width` bytes.
std::string line(int i, size_t width = 100) {
  std::string s = "{\"n\":" + std::to_string(i) + ",\"pad\":\"";
  s.append(width > s.size() + 2 ? width - s.size() - 2 : 0, 'x');
  return s + "\"}";
}

// The numbers of the lines of `path`; every line must be whole (one of ours).
std::vector<int> numbers(const std::string& path, size_t* bytes = nullptr) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes) *bytes = all.size();
  EXPECT_TRUE(all.empty() || all.back() == '\n') << path << " ends inside a line";
  std::vector<int> v;
  size_t pos = 0;
  while (pos < all.size()) {
    const size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) break;
    const std::string l = all.substr(pos, nl - pos);
    const int n = std::atoi(l.c_str() + 5);
    EXPECT_EQ(l, line(n, l.size())) << path << ": a broken line";
    v.push_back(n);
    pos = nl + 1;
  }
  return v;
}

TEST(LineFile, RotationBySizeKeepsEveryLineWhole) {
  const std::string d = scratch("size"), p = d + "/events.jsonl";
  LineFileOptions o;
  o.rotate_bytes = 1000;
  o.flush_bytes = 300;
  LineFile f;
  ASSERT_TRUE(f.open(p, false, o, 0));
  for (int i = 0; i < 500; ++i) f.write(line(i, 40 + i % 70));
  ASSERT_TRUE(f.close());
  EXPECT_EQ(f.counters().lines, 500u);
  EXPECT_EQ(f.counters().lost, 0u);
  // PATH.1, PATH.2, ... then PATH: every line once, in order, no file over the limit.
  std::vector<int> all;
  const uint64_t files = f.counters().rotations + 1;
  EXPECT_GT(files, 20u);
  for (uint64_t k = 1; k <= files; ++k) {
    const std::string name = k == files ? p : p + "." + std::to_string(k);
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::exists(name));
    size_t bytes = 0;
    const auto v = numbers(name, &bytes);
    EXPECT_LE(bytes, 1000u);
    EXPECT_FALSE(v.empty());
    all.insert(all.end(), v.begin(), v.end());
  }
  EXPECT_FALSE(fs::exists(p + "." + std::to_string(files)));
  ASSERT_EQ(all.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(all[i], i);
}

TEST(LineFile, RotationByAgeAndAnExistingOldFileIsNotOverwritten) {
  const std::string d = scratch("age"), p = d + "/flows.jsonl";
  { std::ofstream(p + ".1") << line(-1) << "\n"; }  // left by an earlier run or logrotate
  LineFileOptions o;
  o.rotate_ns = 1000;
  LineFile f;
  ASSERT_TRUE(f.open(p, false, o, 0));
  f.write(line(0));
  f.tick(500);  // young: written, kept
  f.write(line(1));
  f.tick(1000);  // old: written, then rotated
  f.write(line(2));
  f.tick(1500);
  ASSERT_TRUE(f.close());
  EXPECT_EQ(f.counters().rotations, 1u);
  EXPECT_EQ(numbers(p + ".1"), std::vector<int>{-1});
  EXPECT_EQ(numbers(p + ".2"), (std::vector<int>{0, 1}));
  EXPECT_EQ(numbers(p), std::vector<int>{2});
}

TEST(LineFile, AFailedReopenIsRetriedAndHoldsTheLines) {
  const std::string d = scratch("reopen"), p = d + "/events.jsonl";
  LineFileOptions o;
  o.retry_ns = 100;
  LineFile f;
  ASSERT_TRUE(f.open(p, false, o, 0));
  f.write(line(0));
  f.tick(10);
  fs::rename(p, p + ".old");  // logrotate moves it away ...
  fs::create_directory(p);    // ... and something is in the way of the new one
  f.reopen(20);
  EXPECT_FALSE(f.is_open());
  EXPECT_NE(f.take_error().find("cannot open"), std::string::npos);
  f.write(line(1));
  f.tick(50);  // before the retry: nothing happens
  fs::remove(p);
  f.write(line(2));
  f.tick(200);  // retried: the held lines go to the new file
  EXPECT_TRUE(f.is_open());
  f.write(line(3));
  ASSERT_TRUE(f.close());
  EXPECT_EQ(numbers(p + ".old"), std::vector<int>{0});
  EXPECT_EQ(numbers(p), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(f.counters().lost, 0u);
  EXPECT_EQ(f.counters().reopens, 1u);
  EXPECT_GE(f.counters().write_errors, 1u);
}

TEST(LineFile, FullDiskLeavesWholeLinesAndCountsWhatItLoses) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a 64 KiB tmpfs (CI runs as root)";
  const std::string d = scratch("full");
  ASSERT_EQ(mount("tmpfs", d.c_str(), "tmpfs", 0, "size=64k"), 0) << "cannot mount a tmpfs";
  struct Unmount {
    std::string p;
    ~Unmount() { umount(p.c_str()); }
  } unmount{d};
  const std::string p = d + "/events.jsonl", filler = d + "/filler";
  {
    std::ofstream fill(filler, std::ios::binary);
    fill << std::string(40 << 10, 'f');
  }
  LineFileOptions o;
  o.flush_bytes = 4096;
  o.hold_bytes = 16 << 10;
  o.retry_ns = 100;
  LineFile f;
  ASSERT_TRUE(f.open(p, false, o, 0));
  uint64_t now = 0;
  int i = 0;
  for (; i < 1000; ++i) {  // ~100 KB: the disk fills up
    f.write(line(i));
    if (i % 50 == 0) f.tick(now += 10);
  }
  EXPECT_GT(f.counters().write_errors, 0u);
  EXPECT_GT(f.counters().lost, 0u);
  EXPECT_NE(f.take_error().find("No space left"), std::string::npos);
  // What reached the file so far is whole lines, a prefix of what was written.
  auto v = numbers(p);
  for (size_t k = 0; k < v.size(); ++k) ASSERT_EQ(v[k], static_cast<int>(k));
  // Space comes back: the held lines follow, then the new ones.
  fs::remove(filler);
  f.tick(now += 1000);
  for (; i < 1100; ++i) f.write(line(i));
  ASSERT_FALSE(f.close());  // lines were lost
  v = numbers(p);
  const auto& c = f.counters();
  EXPECT_EQ(v.size(), c.lines);
  EXPECT_EQ(c.lines + c.lost, 1100u);
  for (size_t k = 1; k < v.size(); ++k) ASSERT_LT(v[k - 1], v[k]);  // in order; the gap is the lost lines
  EXPECT_EQ(v.back(), 1099);
}

// A rename that fails (here: the file is a bind mount, EBUSY) must not stop the writing:
// the file grows past the limit, the failure is counted and reported once, nothing is lost.
TEST(LineFile, AFailedRotationKeepsWritingToTheSameFile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to bind-mount a file (CI runs as root)";
  const std::string d = scratch("busy"), p = d + "/events.jsonl", real = d + "/real";
  std::ofstream(real).close();
  std::ofstream(p).close();
  ASSERT_EQ(mount(real.c_str(), p.c_str(), nullptr, MS_BIND, nullptr), 0);
  LineFileOptions o;
  o.rotate_bytes = 500;
  o.flush_bytes = 1;
  o.retry_ns = 10;
  LineFile f;
  ASSERT_TRUE(f.open(p, false, o, 0));
  for (int i = 0; i < 50; ++i) {
    f.write(line(i));
    f.tick(i * 100);  // past the retry each time: the rename is tried again, and fails again
  }
  EXPECT_TRUE(f.close());
  umount(p.c_str());
  EXPECT_EQ(f.counters().rotations, 0u);
  EXPECT_GT(f.counters().write_errors, 1u);
  EXPECT_EQ(f.counters().lost, 0u);
  const std::string e = f.take_error();
  EXPECT_NE(e.find("to rotate it"), std::string::npos) << e;
  EXPECT_EQ(e.find("to rotate it"), e.rfind("to rotate it")) << "reported more than once: " << e;
  const auto v = numbers(real);
  ASSERT_EQ(v.size(), 50u);
  EXPECT_FALSE(fs::exists(p + ".1"));
}

// /dev/null (here a copy of the device node) and a symbolic link are written as they are:
// never renamed away, never replaced by a regular file.
TEST(LineFile, DevicesAndLinksAreNeverRotated) {
  const std::string d = scratch("special"), target = d + "/target", link = d + "/link.jsonl", dev = d + "/null";
  fs::create_symlink(target, link);
  LineFileOptions o;
  o.rotate_bytes = 300;
  o.rotate_ns = 10;
  o.flush_bytes = 1;
  LineFile l;
  ASSERT_TRUE(l.open(link, false, o, 0));
  for (int i = 0; i < 20; ++i) l.write(line(i));
  l.tick(100);
  EXPECT_TRUE(l.close());
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(numbers(target).size(), 20u);
  EXPECT_EQ(l.counters().rotations, 0u);
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a device node";
  ASSERT_EQ(mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  LineFile n;
  ASSERT_TRUE(n.open(dev, false, o, 0));
  for (int i = 0; i < 20; ++i) n.write(line(i));
  n.tick(100);
  EXPECT_TRUE(n.close());
  EXPECT_EQ(n.counters().lines, 20u);
  EXPECT_EQ(n.counters().rotations, 0u);
  struct stat st{};
  ASSERT_EQ(stat(dev.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_FALSE(fs::exists(dev + ".1"));
}

// A line longer than rotate_bytes gets a file of its own; a line after close() is counted.
TEST(LineFile, ALineLongerThanTheLimitAndALineAfterClose) {
  const std::string d = scratch("long"), p = d + "/flows.jsonl";
  LineFileOptions o;
  o.rotate_bytes = 200;
  LineFile f;
  ASSERT_TRUE(f.open(p, false, o, 0));
  f.write(line(0, 100));
  f.write(line(1, 500));
  f.write(line(2, 100));
  EXPECT_TRUE(f.close());
  EXPECT_EQ(numbers(p + ".1"), std::vector<int>{0});
  EXPECT_EQ(numbers(p + ".2"), std::vector<int>{1});
  EXPECT_EQ(numbers(p), std::vector<int>{2});
  f.write(line(3));
  EXPECT_EQ(f.counters().lost, 1u);
  EXPECT_FALSE(f.close());
  EXPECT_EQ(numbers(p), std::vector<int>{2});
}

}  // namespace
}  // namespace seqwatch::event
