"""The servicers: thin translations between the contract and the engine."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import grpc

from clearing import fares, registry, settlement
from clearing.errors import ForbiddenError
from clearing.ingest import BatchRejectedError, BatchRejectReason, Ingestor
from clearing.ledger import LedgerLog
from clearing.server import _convert as convert
from clearing.server._audit import checkpoint_to_proto
from clearing.server._auth import ParticipantDirectory, caller
from clearing.server._status import abort, error_info
from clearing.server._wallets import ReaderLists
from clearing.storage import Database
from clearing.values import Device, Money, Role
from farebridge.v1 import (
    clearing_service_pb2,
    clearing_service_pb2_grpc,
    reader_service_pb2,
    reader_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
)

log = logging.getLogger(__name__)

_BATCH_REJECT_STATUS = {
    BatchRejectReason.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    BatchRejectReason.BAD_SIGNATURE: grpc.StatusCode.UNAUTHENTICATED,
    BatchRejectReason.UNKNOWN_DEVICE: grpc.StatusCode.NOT_FOUND,
    BatchRejectReason.FOREIGN_DEVICE: grpc.StatusCode.PERMISSION_DENIED,
    BatchRejectReason.TOO_LARGE: grpc.StatusCode.INVALID_ARGUMENT,
    BatchRejectReason.EMPTY: grpc.StatusCode.INVALID_ARGUMENT,
}


class ReaderServicer(reader_service_pb2_grpc.ReaderServiceServicer):
    def __init__(
        self, ingestor: Ingestor, directory: ParticipantDirectory, lists: ReaderLists
    ) -> None:
        self._ingestor = ingestor
        self._directory = directory
        self._lists = lists

    def SubmitTaps(
        self,
        request_iterator: Iterator[reader_service_pb2.SubmitTapsRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[reader_service_pb2.SubmitTapsResponse]:
        operator = caller(context, self._directory)
        for request in request_iterator:
            try:
                outcome = self._ingestor.ingest(operator.participant_id, request.signed_batch)
            except BatchRejectedError as rejected:
                log.info("batch refused from %s: %s", operator.participant_id, rejected)
                abort(
                    context,
                    _BATCH_REJECT_STATUS[rejected.reason],
                    str(rejected),
                    reader_service_pb2.BatchRejection(
                        batch_id=rejected.batch_id,
                        device_id=rejected.device_id,
                        reason=convert.BATCH_REJECT[rejected.reason],
                    ),
                )
            yield convert.submit_taps_response(outcome.batch_id, outcome.outcomes)

    def GetTrustList(
        self, request: reader_service_pb2.GetTrustListRequest, context: grpc.ServicerContext
    ) -> reader_service_pb2.GetTrustListResponse:
        return self._lists.trust_list()

    def GetDenyList(
        self, request: reader_service_pb2.GetDenyListRequest, context: grpc.ServicerContext
    ) -> reader_service_pb2.GetDenyListResponse:
        return self._lists.deny_list(request.since_version)


class RegistryServicer(registry_service_pb2_grpc.RegistryServiceServicer):
    def __init__(
        self, database: Database, directory: ParticipantDirectory, clock: Callable[[], datetime]
    ) -> None:
        self._database = database
        self._directory = directory
        self._clock = clock

    def RegisterParticipant(
        self,
        request: registry_service_pb2.RegisterParticipantRequest,
        context: grpc.ServicerContext,
    ) -> registry_service_pb2.RegisterParticipantResponse:
        wanted = convert.participant_from_proto(request.participant)
        with self._database.transaction() as session:
            stored = registry.register_participant(session, wanted, self._clock())
        return registry_service_pb2.RegisterParticipantResponse(
            participant=convert.participant_to_proto(stored)
        )

    def RegisterDevice(
        self, request: registry_service_pb2.RegisterDeviceRequest, context: grpc.ServicerContext
    ) -> registry_service_pb2.RegisterDeviceResponse:
        who = caller(context, self._directory)
        message = request.device
        operator_id = message.operator_id or who.participant_id
        if who.role is Role.OPERATOR and operator_id != who.participant_id:
            raise ForbiddenError("an operator registers only its own devices")
        wanted = Device(
            message.device_id,
            operator_id,
            message.public_key,
            message.stop_id,
            convert.mode_from_proto(message.mode),
        )
        with self._database.transaction() as session:
            stored = registry.register_device(session, wanted, self._clock())
        return registry_service_pb2.RegisterDeviceResponse(device=convert.device_to_proto(stored))

    def RegisterMedium(
        self, request: registry_service_pb2.RegisterMediumRequest, context: grpc.ServicerContext
    ) -> registry_service_pb2.RegisterMediumResponse:
        who = caller(context, self._directory)
        issuer_id = request.medium.issuer_id or who.participant_id
        if issuer_id != who.participant_id:
            raise ForbiddenError("an issuer registers only its own media")
        with self._database.transaction() as session:
            token, issuer = registry.register_medium(
                session,
                request.medium.medium_token,
                issuer_id,
                self._clock(),
                card_uid=request.medium.card_uid,
            )
        return registry_service_pb2.RegisterMediumResponse(
            medium=registry_service_pb2.Medium(
                medium_token=token, issuer_id=issuer, card_uid=request.medium.card_uid
            )
        )

    def RegisterCardScheme(
        self,
        request: registry_service_pb2.RegisterCardSchemeRequest,
        context: grpc.ServicerContext,
    ) -> registry_service_pb2.RegisterCardSchemeResponse:
        who = caller(context, self._directory)
        scheme = request.scheme
        if scheme.issuer_id not in ("", who.participant_id):
            raise ForbiddenError("an issuer registers only its own card scheme")
        with self._database.transaction() as session:
            registry.register_card_scheme(
                session,
                who.participant_id,
                aid=scheme.aid,
                system_identifier=scheme.system_identifier,
                master_key=scheme.master_key,
                now=self._clock(),
            )
        return registry_service_pb2.RegisterCardSchemeResponse(
            scheme=registry_service_pb2.CardScheme(
                issuer_id=who.participant_id,
                aid=scheme.aid,
                system_identifier=scheme.system_identifier,
            )
        )

    def ListParticipants(
        self, request: registry_service_pb2.ListParticipantsRequest, context: grpc.ServicerContext
    ) -> registry_service_pb2.ListParticipantsResponse:
        with self._database.transaction() as session:
            participants = registry.list_participants(session)
        return registry_service_pb2.ListParticipantsResponse(
            participants=[convert.participant_to_proto(p) for p in participants]
        )

    def ListDevices(
        self, request: registry_service_pb2.ListDevicesRequest, context: grpc.ServicerContext
    ) -> registry_service_pb2.ListDevicesResponse:
        who = caller(context, self._directory)
        operator_id = request.operator_id or None
        if who.role is Role.OPERATOR:
            if operator_id not in (None, who.participant_id):
                raise ForbiddenError("an operator sees only its own devices")
            operator_id = who.participant_id
        with self._database.transaction() as session:
            devices = registry.list_devices(session, operator_id)
        return registry_service_pb2.ListDevicesResponse(
            devices=[convert.device_to_proto(d) for d in devices]
        )


class ClearingServicer(clearing_service_pb2_grpc.ClearingServiceServicer):
    def __init__(
        self,
        database: Database,
        directory: ParticipantDirectory,
        log: LedgerLog,
        clock: Callable[[], datetime],
        ingestor: Ingestor,
        *,
        desk: settlement.SettlementDesk,
        schedule: settlement.CycleSchedule | None = None,
    ) -> None:
        """``schedule`` decides a close's cut-off when the request names none;
        without one, a cycle ends when it is closed."""
        self._database = database
        self._directory = directory
        self._log = log
        self._clock = clock
        self._ingestor = ingestor
        self._desk = desk
        self._schedule = schedule

    def SetFlatFare(
        self, request: clearing_service_pb2.SetFlatFareRequest, context: grpc.ServicerContext
    ) -> clearing_service_pb2.SetFlatFareResponse:
        wanted = request.flat_fare
        mode = convert.mode_from_proto(wanted.mode)
        fare = Money(wanted.fare.minor_units, wanted.fare.currency)
        with self._database.transaction() as session:
            fares.set_flat_fare(session, wanted.operator_id, mode, fare, self._clock())
        return clearing_service_pb2.SetFlatFareResponse(flat_fare=wanted)

    def CloseCycle(
        self, request: clearing_service_pb2.CloseCycleRequest, context: grpc.ServicerContext
    ) -> clearing_service_pb2.CloseCycleResponse:
        if not request.close_id:
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "close_id is required: it makes a retried close harmless",
                error_info("CLOSE_ID_REQUIRED"),
            )
        cut_off = None
        if request.HasField("cut_off"):
            cut_off = request.cut_off.ToDatetime(tzinfo=UTC)
        elif self._schedule is not None:
            cut_off = self._schedule.latest_cut_off(self._clock())
        self._ingestor.settle_open_journeys()
        summary, head, _ = self._desk.close(request.close_id, cut_off)
        cycle = _cycle(summary, None)
        cycle.checkpoint.CopyFrom(checkpoint_to_proto(head))
        return clearing_service_pb2.CloseCycleResponse(cycle=cycle)

    def GetPositions(
        self, request: clearing_service_pb2.GetPositionsRequest, context: grpc.ServicerContext
    ) -> clearing_service_pb2.GetPositionsResponse:
        who = caller(context, self._directory)
        with self._database.transaction() as session:
            summary = settlement.cycle_summary(session, request.cycle_number or None)
        cycle = _cycle(summary, None)
        if not who.sees_everything:
            for rows in (cycle.positions, cycle.fees, cycle.instructions):
                kept = [row for row in rows if who.sees(row.participant_id)]
                del rows[:]
                rows.extend(kept)  # type: ignore[arg-type]
        return clearing_service_pb2.GetPositionsResponse(cycle=cycle)

    def GetSettlementReport(
        self,
        request: clearing_service_pb2.GetSettlementReportRequest,
        context: grpc.ServicerContext,
    ) -> clearing_service_pb2.GetSettlementReportResponse:
        signed = self._desk.report(request.cycle_number or None)
        return clearing_service_pb2.GetSettlementReportResponse(report=signed)

    def PublishFxRates(
        self, request: clearing_service_pb2.PublishFxRatesRequest, context: grpc.ServicerContext
    ) -> clearing_service_pb2.PublishFxRatesResponse:
        wanted = [
            settlement.FxRate(r.from_currency, r.to_currency, settlement.parse_rate(r.rate))
            for r in request.rates
        ]
        with self._database.transaction() as session:
            published = settlement.publish_rates(session, wanted, self._clock())
            cycle = settlement.open_cycle_number(session)
        return clearing_service_pb2.PublishFxRatesResponse(
            cycle_number=cycle,
            rates=[
                clearing_service_pb2.FxRate(
                    from_currency=r.from_currency, to_currency=r.to_currency,
                    rate=str(r.rate), cycle_number=r.cycle_number,
                )
                for r in published
            ],
        )  # fmt: skip

    def SetFeeSchedule(
        self, request: clearing_service_pb2.SetFeeScheduleRequest, context: grpc.ServicerContext
    ) -> clearing_service_pb2.SetFeeScheduleResponse:
        message = request.schedule
        schedule = settlement.FeeSchedule(
            message.participant_id, message.currency, message.basis_points,
            message.per_transaction_minor,
        )  # fmt: skip
        with self._database.transaction() as session:
            settlement.set_fee_schedule(session, schedule, self._clock())
        return clearing_service_pb2.SetFeeScheduleResponse(schedule=message)

    def RecordAgentTopUp(
        self,
        request: clearing_service_pb2.RecordAgentTopUpRequest,
        context: grpc.ServicerContext,
    ) -> clearing_service_pb2.RecordAgentTopUpResponse:
        who = caller(context, self._directory)
        message = request.top_up
        if message.operator_id not in ("", who.participant_id):
            raise ForbiddenError("an operator records only its own ticket machines' top-ups")
        wanted = settlement.AgentTopUp(
            who.participant_id, message.top_up_id, message.medium_token,
            Money(message.amount.minor_units, message.amount.currency),
        )  # fmt: skip
        with self._database.transaction() as session:
            stored = settlement.record_agent_top_up(session, wanted, self._clock())
        answer = clearing_service_pb2.AgentTopUp(
            top_up_id=stored.top_up_id, medium_token=stored.medium_token,
            operator_id=stored.operator_id, issuer_id=stored.issuer_id,
        )  # fmt: skip
        answer.amount.minor_units = stored.amount.minor_units
        answer.amount.currency = stored.amount.currency
        return clearing_service_pb2.RecordAgentTopUpResponse(top_up=answer)


def _cycle(summary: settlement.CycleSummary, visible_to: str | None) -> clearing_service_pb2.Cycle:
    """A cycle with its cut-off, fees and instructions; ``visible_to`` limits
    every list to one participant's rows."""
    cycle = convert.cycle_to_proto(summary, visible_to)
    if summary.cut_off is not None:
        cycle.cut_off.FromDatetime(summary.cut_off)
    extra = settlement.cycle_messages(summary)
    cycle.fees.extend(f for f in extra["fees"] if visible_to in (None, f.participant_id))
    cycle.instructions.extend(
        i for i in extra["instructions"] if visible_to in (None, i.participant_id)
    )
    return cycle
