"""The wallet provider SDK (accounts, proxies, top-ups, QR ride codes)."""
