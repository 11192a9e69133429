"""The account setting actions as Dispatcher handlers (ecsapi/account.py): nothing is read or
written, but each request still acts in a namespace the key is allowed (an account setting
is an account's, and a namespace is what an account is here)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import account
from ecs_facade.ecsapi.handlers import request_namespace
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext


@dataclass
class AccountActions:
    arns: Arns

    def list_account_settings(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        request_namespace(context, self.arns.region)
        return account.list_account_settings(request, self.arns.account_id)

    def put_account_setting(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        request_namespace(context, self.arns.region)
        return account.put_account_setting(request, self.arns.account_id)

    def delete_account_setting(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        request_namespace(context, self.arns.region)
        return account.delete_account_setting(request, self.arns.account_id)

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("ListAccountSettings", self.list_account_settings),
            ("PutAccountSetting", self.put_account_setting),
            ("PutAccountSettingDefault", self.put_account_setting),
            ("DeleteAccountSetting", self.delete_account_setting),
        ):
            dispatcher.register("ecs", action, handler)
