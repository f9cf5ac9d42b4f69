"""Inside a service: v1's ModelDataCollector, the writer that puts its rows on disk off the request
path, and the retention that bounds what they take. Cheap to import (no pandas, no scipy)."""
