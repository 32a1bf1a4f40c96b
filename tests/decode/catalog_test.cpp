// Every catalogue frame decodes cleanly to its declared shape, and the catalogue covers
// every link type and tunnel type (so the mutation test seeds from all of them).
#include <set>

#include "decode_test_util.hpp"
#include "frame_catalog.hpp"

namespace seqwatch::test {
namespace {

using decode::L4Type;
using decode::TunnelType;

class CatalogTest : public ::testing::TestWithParam<CatalogFrame> {};

TEST_P(CatalogTest, DecodesToDeclaredShape) {
  const CatalogFrame& f = GetParam();
  const Decoded d = decode_frame(f.bytes, f.link);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, f.ip_count);
  EXPECT_EQ(d.v.tunnel_count, f.tunnel_count);
  EXPECT_EQ(d.v.l4, f.l4);
  EXPECT_EQ(d.v.tunnel_count ? d.v.tunnel[0].type : TunnelType::kNone, f.outer_tunnel);
  for (const auto& field : f.fields) EXPECT_LE(field.off + field.width, f.bytes.size()) << "field outside the frame";
}

INSTANTIATE_TEST_SUITE_P(Frames, CatalogTest, ::testing::ValuesIn(frame_catalog()),
                         [](const ::testing::TestParamInfo<CatalogFrame>& i) {
                           std::string n = i.param.name;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(Catalog, CoversEveryLinkTypeAndTunnelType) {
  std::set<LinkType> links;
  std::set<TunnelType> tunnels;
  for (const CatalogFrame& f : frame_catalog()) {
    links.insert(f.link);
    const Decoded d = decode_frame(f.bytes, f.link);
    for (unsigned i = 0; i < d.v.tunnel_count; ++i) tunnels.insert(d.v.tunnel[i].type);
  }
  for (LinkType lt : kAllLinkTypes) EXPECT_TRUE(links.count(lt)) << decode::link_type_name(lt);
  for (unsigned t = 1; t < static_cast<unsigned>(TunnelType::kCount); ++t) {
    EXPECT_TRUE(tunnels.count(static_cast<TunnelType>(t))) << decode::tunnel_type_name(static_cast<TunnelType>(t));
  }
}

}  // namespace
}  // namespace seqwatch::test
