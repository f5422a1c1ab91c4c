// The call the segment code makes at each test point (wsm/shm/test_points.hpp). In a build without
// WSM_TEST_POINTS it is an empty inline function: nothing of the hook reaches shipped binaries.
#pragma once

#include "wsm/shm/test_points.hpp"

namespace wsm::shm::test_points {

#ifdef WSM_TEST_POINTS
void pass(Point point) noexcept;
#else
inline void pass(Point) noexcept {}
#endif

}  // namespace wsm::shm::test_points
