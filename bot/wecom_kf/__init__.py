"""WeCom 微信客服 (kf) channel: kf events from the WeCom callback, sync_msg, send_msg."""
