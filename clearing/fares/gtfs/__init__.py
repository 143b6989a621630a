"""GTFS-Fares v2: import a feed's fare tables, check them, and quote
journeys under them (see docs.md in this package).

``load_feed`` reads and validates a feed directory; ``quote`` is a pure
function of (feed, journey); ``split`` divides a charge among operators
exactly.
"""

from clearing.fares.gtfs._apportion import split
from clearing.fares.gtfs._errors import FeedError, FeedNotFoundError, GtfsFaresError, JourneyError
from clearing.fares.gtfs._feed import FareFeed
from clearing.fares.gtfs._issues import FeedIssue, IssueCode, Severity
from clearing.fares.gtfs._journey import JourneyLeg, JourneyQuery, parse_journey
from clearing.fares.gtfs._money import format_minor, parse_amount
from clearing.fares.gtfs._quote import LegQuote, Quote, QuoteCharge, Share, quote, quote_json
from clearing.fares.gtfs._transfers import ChargeKind
from clearing.fares.gtfs._validate import load_feed, validate_feed
from farebridge.codecs.currencies import CURRENCY_EXPONENTS

__all__ = [
    "CURRENCY_EXPONENTS",
    "ChargeKind",
    "FareFeed",
    "FeedError",
    "FeedIssue",
    "FeedNotFoundError",
    "GtfsFaresError",
    "IssueCode",
    "JourneyError",
    "JourneyLeg",
    "JourneyQuery",
    "LegQuote",
    "Quote",
    "QuoteCharge",
    "Severity",
    "Share",
    "format_minor",
    "load_feed",
    "parse_amount",
    "parse_journey",
    "quote",
    "quote_json",
    "split",
    "validate_feed",
]
