package bidder

import (
	"strings"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// alpha2to3 maps the ISO 3166-1 alpha-2 codes some exchanges send in geo.country
// (OpenRTB asks for alpha-3) for the markets most traffic comes from.
var alpha2to3 = map[string]string{
	"DE": "DEU", "AT": "AUT", "CH": "CHE", "US": "USA", "GB": "GBR", "UK": "GBR", "FR": "FRA",
	"IT": "ITA", "ES": "ESP", "NL": "NLD", "BE": "BEL", "PL": "POL", "SE": "SWE", "NO": "NOR",
	"DK": "DNK", "FI": "FIN", "IE": "IRL", "PT": "PRT", "CZ": "CZE", "CA": "CAN", "MX": "MEX",
	"BR": "BRA", "AR": "ARG", "JP": "JPN", "KR": "KOR", "CN": "CHN", "IN": "IND", "AU": "AUS",
	"NZ": "NZL", "ZA": "ZAF", "TR": "TUR", "RU": "RUS", "UA": "UKR", "SG": "SGP", "ID": "IDN",
}

// country returns the request's ISO alpha-3 country: device.geo, then user.geo.
func country(req *openrtb2.BidRequest) string {
	c := ""
	if req.Device != nil && req.Device.Geo != nil {
		c = req.Device.Geo.Country
	}
	if c == "" && req.User != nil && req.User.Geo != nil {
		c = req.User.Geo.Country
	}
	switch len(c) {
	case 3:
		if c[0] >= 'a' {
			return strings.ToUpper(c)
		}
		return c
	case 2:
		return alpha2to3[strings.ToUpper(c)]
	}
	return ""
}

// device maps device.devicetype (AdCOM list 5.21) to the campaign file's device
// classes; without it, a web request's user agent decides.
func device(req *openrtb2.BidRequest) campaigns.Device {
	d := req.Device
	if d == nil {
		return campaigns.DeviceUnknown
	}
	switch d.DeviceType {
	case adcom1.DeviceMobile, adcom1.DevicePhone:
		return campaigns.DeviceMobile
	case adcom1.DevicePC:
		return campaigns.DeviceDesktop
	case adcom1.DeviceTV, adcom1.DeviceConnected, adcom1.DeviceSetTopBox:
		return campaigns.DeviceCTV
	case adcom1.DeviceTablet:
		return campaigns.DeviceTablet
	}
	ua := d.UA
	switch {
	case ua == "":
		return campaigns.DeviceUnknown
	case strings.Contains(ua, "iPad") || strings.Contains(ua, "Tablet"):
		return campaigns.DeviceTablet
	case strings.Contains(ua, "Mobi") || strings.Contains(ua, "Android"):
		return campaigns.DeviceMobile
	case strings.Contains(ua, "SmartTV") || strings.Contains(ua, "CrKey") || strings.Contains(ua, "AppleTV"):
		return campaigns.DeviceCTV
	}
	return campaigns.DeviceDesktop
}
