"""The visible text of a rendered page, as a reader (or the seed's capture) sees it."""

from html.parser import HTMLParser

_SKIPPED = {"head", "script", "style", "svg", "select", "noscript"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__()
        self.depth_skipped = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self.depth_skipped += 1
        elif tag == "img" and not self.depth_skipped:
            self.chunks.append(dict(attrs).get("alt") or "")

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self.depth_skipped -= 1

    def handle_data(self, data):
        if not self.depth_skipped:
            self.chunks.append(data)


def page_text(html: str) -> str:
    """Text in document order, image alt texts included, head/svg/forms' selects left out."""
    extractor = _TextExtractor()
    extractor.feed(html)
    return "\n".join(extractor.chunks)


def squeeze(text: str) -> str:
    """Drop all whitespace: the seed's capture lost the page's spacing and line breaks."""
    return "".join(text.split())
