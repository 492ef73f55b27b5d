package reports

import "github.com/kairos-rtb/kairos/money"

// Bid-price buckets of the landscape: 0.25 CPM steps below 5.00, 1.00 steps
// below 20.00, then one bucket for everything above.
const (
	fineStep   = money.Unit / 4
	fineTop    = 5 * money.Unit
	coarseStep = money.Unit
	coarseTop  = 20 * money.Unit
	numFine    = int(fineTop / fineStep)
	numBuckets = numFine + int((coarseTop-fineTop)/coarseStep) + 1
)

// bucketOf returns the landscape bucket of a bid CPM.
func bucketOf(cpm money.Micros) int {
	switch {
	case cpm < 0:
		return 0
	case cpm < fineTop:
		return int(cpm / fineStep)
	case cpm < coarseTop:
		return numFine + int((cpm-fineTop)/coarseStep)
	}
	return numBuckets - 1
}

// BucketBounds returns the CPM range [low, high) of landscape bucket b; high is
// 0 for the last, open-ended bucket.
func BucketBounds(b int) (low, high money.Micros) {
	switch {
	case b < numFine:
		return money.Micros(b) * fineStep, money.Micros(b+1) * fineStep
	case b < numBuckets-1:
		low = fineTop + money.Micros(b-numFine)*coarseStep
		return low, low + coarseStep
	}
	return coarseTop, 0
}

// NumBuckets is the number of landscape buckets.
const NumBuckets = numBuckets
