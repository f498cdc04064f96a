// When a replica's distance from the primary's WAL position counts as lag
// (detail::holds_no_transaction, used by the replica probe).
#include <gtest/gtest.h>

#include "../../client/service/health_probes.hpp"

namespace {

using stratum::detail::holds_no_transaction;

constexpr std::uint64_t page = 8192;

TEST(ReplayPosition, AtOrPastThePrimaryHoldsNothing)
{
    EXPECT_TRUE(holds_no_transaction(5 * page, 5 * page));
    EXPECT_TRUE(holds_no_transaction(5 * page + 80, 5 * page));
}

// An idle primary's position may stand past the next page's header, or past
// a record of its own with no data: the replica lacks no commit.
TEST(ReplayPosition, APageHeaderOrAHeaderOnlyRecordHoldsNoCommit)
{
    EXPECT_TRUE(holds_no_transaction(5 * page, 5 * page + 24));
    EXPECT_TRUE(holds_no_transaction(5 * page + 48, 5 * page + 72));
    EXPECT_TRUE(holds_no_transaction(5 * page + 48, 5 * page + 87));
}

// The smallest commit record takes 40 bytes: from there on, the time since
// the replica's last commit is its lag.
TEST(ReplayPosition, RoomForACommitIsLag)
{
    EXPECT_FALSE(holds_no_transaction(5 * page + 48, 5 * page + 88));
    EXPECT_FALSE(holds_no_transaction(5 * page, 6 * page));
    EXPECT_FALSE(holds_no_transaction(0, std::uint64_t{1} << 40));
}

}  // namespace
