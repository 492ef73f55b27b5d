package shading

import (
	"math"

	"github.com/kairos-rtb/kairos/money"
)

// The price grid: numCells cells between gridPrice[k] and gridPrice[k+1],
// cellsPerDecade per factor of ten from 0.01 CPM.
const (
	numCells       = 160
	cellsPerDecade = 40
	gridLow        = money.Unit / 100
)

// gridPrice holds the grid prices (CPM, micros), gridPrice[0] = 0.01 and
// gridPrice[numCells] = 100.
var gridPrice = func() (g [numCells + 1]money.Micros) {
	for k := range g {
		g[k] = money.Micros(math.Round(float64(gridLow) * math.Pow(10, float64(k)/cellsPerDecade)))
	}
	return g
}()

// cellOf returns the cell holding price x: the largest k < numCells with
// gridPrice[k] <= x (0 below the grid).
func cellOf(x money.Micros) int {
	lo, hi := 0, numCells-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if gridPrice[mid] <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// nearest returns the grid point nearest to x (at most numCells-1). An
// outcome at a price between grid points is counted at the nearest one, so
// that the rounding errors of wins and losses cancel rather than add up.
func nearest(x money.Micros) int {
	k := cellOf(x)
	if k+1 < numCells && x-gridPrice[k] > gridPrice[k+1]-x {
		k++
	}
	return k
}

// firstAtOrAbove returns the smallest k with gridPrice[k] >= x.
func firstAtOrAbove(x money.Micros) int {
	k := cellOf(x)
	if gridPrice[k] < x {
		k++
	}
	return k
}
