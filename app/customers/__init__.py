"""Know each customer (issue 14): the profile a till may set and an admin may read or erase, and the
customer card that sums up what they bought, when, and what the program gave them."""
