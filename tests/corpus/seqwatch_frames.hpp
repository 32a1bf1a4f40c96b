// seqwatch's side of the differential test: a PacketView reduced to a FrameModel.
//
// Everything comes from the view (layers, offsets, TCP/UDP fields). The one thing the view
// does not keep is the UDP header of an outer tunnel layer once an inner UDP header
// replaced it; those ports are read from the frame at the offset the decoder recorded
// for that layer (IpLayer::l4_off), so the offsets are under test too.
#pragma once

#include "decode/packet_view.hpp"
#include "frame_model.hpp"

namespace seqwatch::corpus {

FrameModel model_of(const decode::PacketView& v, uint32_t number);

}  // namespace seqwatch::corpus
